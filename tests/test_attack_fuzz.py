"""Attack query strings never get a 5xx from the report, the catalogue or the admin.

Hypothesis writes query strings over each endpoint's own parameter names
(and stray ones) with the values an attack run tries: huge and negative
numbers, float and negative page numbers, dates out of range, NUL and other
control characters, bytes that are not UTF-8, very long text, unknown
choices and SQL-ish text, mixed with valid values so filters also combine.

* the staff match report and its CSV, XLSX and PDF exports, as a superuser
  and as a partner (streamed bodies are read to the end);
* the public catalogue's list and each programme's page, anonymously;
* every registered model admin's change list, with its list filters' and
  date hierarchy's parameters, search (q), ordering (o), page (p) and the
  model's own fields as lookups, as a superuser, and each change list a
  partner may open (partner-scoped), as a partner allowed to view and change.

Whatever is sent, the answer is below 500. Both databases run this
(PostgreSQL refuses NUL in text and overflowing numbers, SQLite does not).
"""

from __future__ import annotations

import datetime
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from programs.catalogue import loader
from programs.engine import contract
from programs.engine.matching import Tier
from programs.models import PartnerAccount, Programme, Provider
from programs.staff.forms import ReportFilterForm
from programs.staff.partner_scope import PartnerScopedAdmin
from tests.builders import make_profile
from tests.factories import kept_profile
from tests.strategies import query_strings

pytestmark = pytest.mark.django_db

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
#: Change lists are many: fewer examples each keeps the module under a minute.
CHANGELIST_SETTINGS = settings(SETTINGS, max_examples=50)
AS_OF = datetime.date(2020, 6, 15)
LANGUAGES = st.sampled_from(["en", "zh-hans"])


def assert_no_server_error(response, url: str) -> None:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)  # a failure mid-stream raises here
    event(f"status {response.status_code}")  # --hypothesis-show-statistics
    assert response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR, url


def get(client, path: str, query: str, language: str):
    """GET path?query exactly as written (the test client would re-encode it)."""
    return client.get(path, QUERY_STRING=query, headers={"accept-language": language})


@pytest.fixture
def data():
    loader.load_catalogue()
    for province, business_type, needs in [
        ("CN-HB", "street_stall", {"financing"}),
        ("CN-SH", "restaurant", {"fee_relief"}),
        ("CN-GD", "convenience_store", {"stock_sourcing"}),
    ]:
        kept_profile(
            make_profile(province=province, business_type=business_type, needs=needs),
            as_of=AS_OF,
            share_contact=True,
            email="owner@example.com",
        )
    now = timezone.now()
    AccessAttempt.objects.create(
        username="x", ip_address="10.0.0.1", attempt_time=now, failures_since_start=1
    )
    AccessLog.objects.create(username="x", ip_address="10.0.0.1", attempt_time=now)


def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw")


def partner() -> User:
    user = User.objects.create_user("jd-team", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_match_report"))
    PartnerAccount.objects.create(user=user, provider=Provider.objects.get(slug="jd"))
    return user


# -- the staff match report and its exports ---------------------------------------------


def report_names_and_values() -> tuple[list[str], list[str]]:
    form = ReportFilterForm(
        programmes=[
            (slug, slug) for slug in Programme.objects.values_list("slug", flat=True)
        ],
        providers=[
            (slug, slug) for slug in Provider.objects.values_list("slug", flat=True)
        ],
    )
    valid = ["2020-06-15", "2026-01-01", "2099-12-31", "2000-01-01"]
    for field in form.fields.values():
        valid += [str(code) for code, _label in getattr(field, "choices", ()) if code]
    return list(form.fields), valid


@pytest.mark.parametrize("who", ["superuser", "partner"])
@SETTINGS
@given(draw=st.data())
def test_the_staff_report_and_its_exports_never_fail(client, data, who, draw):
    maker = superuser if who == "superuser" else partner
    client.force_login(User.objects.filter(is_staff=True).first() or maker())
    names, valid = report_names_and_values()
    path = draw.draw(
        st.sampled_from(
            [reverse("admin:programs_match_report")]
            + [
                reverse("admin:programs_match_report_export", args=[fmt])
                for fmt in ("csv", "xlsx", "pdf", "docx")
            ]
        )
    )
    query = draw.draw(query_strings(names, valid))
    response = get(client, path, query, draw.draw(LANGUAGES))
    assert_no_server_error(response, f"{path}?{query}")


# -- the public catalogue -------------------------------------------------------------------


CATALOGUE_NAMES = ["provider", "need", "status", "open_on", "page", "q"]


def catalogue_values() -> list[str]:
    return [
        *Provider.objects.values_list("slug", flat=True),
        *contract.FIELDS["needs"].codes,
        "open",
        "closed",
        "not_yet_open",
        "2020-06-15",
    ]


@SETTINGS
@given(draw=st.data())
def test_the_catalogue_list_never_fails(client, data, draw):
    query = draw.draw(query_strings(CATALOGUE_NAMES, catalogue_values()))
    response = get(
        client, reverse("programs:programme_list"), query, draw.draw(LANGUAGES)
    )
    assert_no_server_error(response, query)


@SETTINGS
@given(draw=st.data())
def test_a_programme_page_never_fails(client, data, draw):
    slug = draw.draw(
        st.one_of(
            st.sampled_from(list(Programme.objects.values_list("slug", flat=True))),
            st.from_regex(r"\A[-a-zA-Z0-9_]{1,300}\Z"),
        )
    )
    query = draw.draw(query_strings(CATALOGUE_NAMES, catalogue_values()))
    response = get(client, f"/programmes/{slug}/", query, draw.draw(LANGUAGES))
    assert_no_server_error(response, f"{slug}?{query}")


# -- every admin change list ------------------------------------------------------------------

MODEL_ADMINS = sorted(
    admin.site._registry.items(), key=lambda item: item[0]._meta.label
)
#: The change list's own parameters: search, ordering, page, show all, the
#: error flag, facets, popups and the to-field of related lookups.
CHANGELIST_NAMES = ["q", "o", "p", "all", "e", "_facets", "_popup", "_to_field"]


def changelist_names(model_admin, user: User) -> list[str]:
    """Return the change list's parameters: its filters', its date hierarchy's, and lookups."""
    request = RequestFactory().get("/")
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    names = list(CHANGELIST_NAMES)
    for spec in changelist.filter_specs:
        names += spec.expected_parameters()
    if hierarchy := model_admin.date_hierarchy:
        names += [f"{hierarchy}__year", f"{hierarchy}__month", f"{hierarchy}__day"]
    lookups = [
        f"{field.name}{lookup}"
        for field in model_admin.model._meta.concrete_fields
        for lookup in ("", "__gte", "__lt", "__in", "__isnull")
    ]
    # The change list's own parameters three times as often as raw lookups,
    # most of which send the list back whole (302), so pages get rendered too.
    return names * 3 + lookups


CHANGELIST_VALUES = [
    "1",
    "2",
    "0",
    "True",
    "False",
    "2020",
    "6",
    "15",
    "2020-06-15",
    "-1",
    "1.2",
    "0.-1",
    str(Tier.ELIGIBLE),
    "CN-HB",
    "jd",
]


@pytest.mark.parametrize(
    "model_admin",
    [model_admin for _model, model_admin in MODEL_ADMINS],
    ids=[model._meta.label for model, _admin in MODEL_ADMINS],
)
@CHANGELIST_SETTINGS
@given(draw=st.data())
def test_every_admin_change_list_never_fails(client, data, model_admin, draw):
    user = User.objects.filter(is_superuser=True).first() or superuser()
    assert_change_list_never_fails(client, model_admin, user, draw)


def assert_change_list_never_fails(client, model_admin, user, draw) -> None:
    """Open the change list as `user` with drawn filters: never a 5xx."""
    client.force_login(user)
    opts = model_admin.model._meta
    path = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    names = changelist_names(model_admin, user)
    query = draw.draw(query_strings(names, CHANGELIST_VALUES))
    response = get(client, path, query, draw.draw(LANGUAGES))
    assert_no_server_error(response, f"{path}?{query}")


PARTNER_ADMINS = [
    model_admin
    for _model, model_admin in MODEL_ADMINS
    if isinstance(model_admin, PartnerScopedAdmin)
]


def partner_editor() -> User:
    """A partner of JD allowed to view and change what partners may edit."""
    user = User.objects.filter(username="jd-team").first() or partner()
    for model_admin in PARTNER_ADMINS:
        opts = model_admin.model._meta
        for action in ("view", "change"):
            user.user_permissions.add(
                Permission.objects.get(
                    content_type__app_label=opts.app_label,
                    codename=f"{action}_{opts.model_name}",
                )
            )
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize(
    "model_admin",
    PARTNER_ADMINS,
    ids=[model_admin.model._meta.label for model_admin in PARTNER_ADMINS],
)
@CHANGELIST_SETTINGS
@given(draw=st.data())
def test_every_change_list_a_partner_may_open_never_fails(
    client, data, model_admin, draw
):
    assert_change_list_never_fails(client, model_admin, partner_editor(), draw)
