"""Who may see and change what.

* Private result links: at least 128 random bits, looked up by digest and
  compared in constant time; an unknown, deleted or malformed token is a 404
  on every URL behind a link, and one owner can never read, change or delete
  another owner's profile, whatever they put in the request.
* Staff pages and every export: a test per URL and role (anonymous, a
  signed-in shop owner, plain staff, an analyst with the report permission, a
  partner, a superuser), with the expected answer, and for partners the
  scoping to their own provider's rows.
* Partners in the admin, given programme permissions: their own provider's
  programmes, criteria and provider only, on every page, action and revert.
* The bulk screening API answers only to a valid API key, never to a session.
"""

from __future__ import annotations

import base64
import csv
import datetime
import hashlib
import io
import json
import secrets
from http import HTTPStatus
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission, User
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from programs.api import keys
from programs.journey import alerts, kept
from programs.models import (
    ApiKey,
    BackgroundJob,
    BusinessProfile,
    Criterion,
    PartnerAccount,
    Programme,
    Provider,
    StoredResult,
)
from tests.builders import make_profile
from tests.factories import (
    CriterionFactory,
    ProgrammeFactory,
    ProviderFactory,
    kept_profile,
)
from tests.pdfs import pdf_text

pytestmark = pytest.mark.django_db

FORM = reverse("programs:profile_form")
OWNER_A = {
    "business_type": "street_stall",
    "province": "CN-HB",
    "city": "Wuhan-A",
    "employees": "1",
    "annual_revenue_cny": "80000",
    "cash_runway_months": "0.5",
    "needs": ["financing", "stock_sourcing"],
    "as_of": "2020-06-15",
    "consent_store": "on",
    "email": "a@example.com",
    "alerts": "on",
}
OWNER_B = {
    **OWNER_A,
    "business_type": "restaurant",
    "province": "CN-SH",
    "city": "Shanghai-B",
    "needs": ["rent_relief"],
    "email": "b@example.com",
}


def keep(client, answers) -> str:
    response = client.post(FORM, answers)
    assert response.status_code == HTTPStatus.FOUND
    return response["Location"].split("/")[2]


def profile_state(row: BusinessProfile) -> tuple:
    """Everything kept about one profile: its columns and its results."""
    return (
        BusinessProfile.objects.filter(pk=row.pk).values().first(),
        list(StoredResult.objects.filter(profile_id=row.pk).order_by("pk").values()),
    )


@pytest.fixture
def owners(client, catalogue):
    """Two owners who kept their results: (token, row) each."""
    token_a, token_b = keep(client, OWNER_A), keep(client, OWNER_B)
    row_a = BusinessProfile.objects.get(city="Wuhan-A")
    row_b = BusinessProfile.objects.get(city="Shanghai-B")
    return (token_a, row_a), (token_b, row_b)


# -- the private link's token -------------------------------------------------------------


def test_private_link_tokens_carry_at_least_128_random_bits_and_only_a_digest_is_kept(
    owners,
):
    assert kept.TOKEN_BYTES * 8 >= 128
    for token, row in owners:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        columns = BusinessProfile.objects.filter(pk=row.pk).values().first()
        assert not any(token in str(value) for value in columns.values())
    (token_a, _), (token_b, _) = owners
    assert token_a != token_b


def test_a_link_is_looked_up_by_digest_and_compared_in_constant_time(
    client, owners, monkeypatch
):
    (token, row), _ = owners
    compared = []

    def spy(a, b):
        compared.append((a, b))
        return secrets.compare_digest(a, b)

    monkeypatch.setattr(kept.hmac, "compare_digest", spy)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("programs:results", args=[token]))
    assert response.status_code == HTTPStatus.OK
    assert compared == [(row.token_hash, row.token_hash)]
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert row.token_hash in sql
    assert token not in sql  # the token itself never reaches the database


#: Every URL behind a private link: (method, URL name, extra args, data).
LINK_URLS = [
    ("get", "programs:results", [], None),
    ("get", "programs:profile_edit", [], None),
    ("post", "programs:profile_edit", [], OWNER_A),
    ("post", "programs:answer_questions", [], {"has_bank_loan": "yes"}),
    ("post", "programs:email_link", [], {"email": "x@example.com"}),
    ("get", "programs:profile_delete", [], None),
    ("post", "programs:profile_delete", [], {}),
    ("get", "programs:report_kept", ["pdf"], None),
    ("get", "programs:report_kept", ["csv"], None),
]


def link_url(name: str, token: str, args: list[str]) -> str:
    """The URL with any token, even one reverse() would refuse."""
    sample = reverse(name, args=["T" * 43, *args])
    return sample.replace("T" * 43, quote(token, safe=""))


def call(client, method: str, url: str, data):
    return client.get(url) if method == "get" else client.post(url, data or {})


def bad_tokens(token: str, row: BusinessProfile) -> dict[str, str]:
    return {
        "unknown": secrets.token_urlsafe(kept.TOKEN_BYTES),
        "one character changed": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "upper-cased": token.upper(),
        "longer": token + "x",
        "the stored digest": row.token_hash,
        "too short": token[:10],
        "too long": token * 10,
        "NULs": "\x00" * 43,
        "markup": '<script>alert("x")</script>' + "a" * 20,
        "SQL": "' OR '1'='1' -- " + "a" * 20,
        "Chinese": "私人链接" * 10,
        "signed garbage": "s." + "a" * 40,
        "signed with another key": "s."
        + signing.dumps(row.token_hash, key="not-the-key", salt=kept.SIGNED_LINK_SALT),
        "signed non-text": "s." + signing.dumps([1, 2], salt=kept.SIGNED_LINK_SALT),
        "signed for unsubscribing": "s."
        + signing.dumps(row.token_hash, salt=alerts.UNSUBSCRIBE_SALT),
    }


@pytest.mark.parametrize(
    ("method", "name", "args", "data"),
    LINK_URLS,
    ids=[f"{m} {n.split(':')[1]} {' '.join(a)}".strip() for m, n, a, _d in LINK_URLS],
)
def test_unknown_malformed_or_deleted_tokens_are_404_on_every_link_url(
    client, owners, method, name, args, data
):
    (token, row), (_token_b, row_b) = owners
    signed = kept.signed_link_token(row)
    before = (profile_state(row), profile_state(row_b))
    for kind, bad in bad_tokens(token, row).items():
        response = call(client, method, link_url(name, bad, args), data)
        assert response.status_code == HTTPStatus.NOT_FOUND, kind
    assert (profile_state(row), profile_state(row_b)) == before
    # The real links work: the 404s were about the tokens. (Deleting works once.)
    deletes = (method, name) == ("post", "programs:profile_delete")
    for link in (token,) if deletes else (token, signed):
        response = call(client, method, link_url(name, link, args), data)
        assert response.status_code in {HTTPStatus.OK, HTTPStatus.FOUND}
    # Once the profile is deleted, neither of its links opens anything.
    BusinessProfile.objects.filter(pk=row.pk).delete()
    before_b = profile_state(row_b)
    for link in (token, signed):
        response = call(client, method, link_url(name, link, args), data)
        assert response.status_code == HTTPStatus.NOT_FOUND
    assert profile_state(row_b) == before_b


def unsubscribe_url(token: str) -> str:
    return reverse("programs:unsubscribe", args=["T"]).replace(
        "/T/", f"/{quote(token, safe='')}/"
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_or_deleted_unsubscribe_links_are_404_and_unsubscribe_nobody(
    client, owners, method
):
    (token_a, row_a), (_token_b, row_b) = owners
    a_link = signing.dumps(row_a.pk, salt=alerts.UNSUBSCRIBE_SALT)
    value, signature = a_link.rsplit(":", 1)
    forged = {
        "garbage": "forged:token",
        "another key": signing.dumps(
            row_b.pk, key="not-the-key", salt=alerts.UNSUBSCRIBE_SALT
        ),
        "A's signature on B's id": signing.dumps(row_b.pk, salt="x").rsplit(":", 1)[0]
        + ":"
        + signature,
        "a private link's signature": signing.dumps(
            row_b.pk, salt=kept.SIGNED_LINK_SALT
        ),
        "NULs": "\x00" * 30,
        "markup": "<script>x</script>",
    }
    for kind, bad in forged.items():
        response = getattr(client, method)(unsubscribe_url(bad))
        assert response.status_code == HTTPStatus.NOT_FOUND, kind
    client.post(reverse("programs:profile_delete", args=[token_a]))
    assert getattr(client, method)(unsubscribe_url(a_link)).status_code == 404
    assert BusinessProfile.objects.get(pk=row_b.pk).alerts_consented_at is not None


# -- one owner, another's profile ---------------------------------------------------------


#: Fields a forged request might use to point at another profile.
def pointers_to(token: str, row: BusinessProfile) -> dict[str, str]:
    return {
        "id": str(row.pk),
        "pk": str(row.pk),
        "profile": str(row.pk),
        "profile_id": str(row.pk),
        "token": token,
        "token_hash": row.token_hash,
    }


def test_a_link_shows_only_its_own_profile(client, owners):
    (token_a, row_a), (token_b, row_b) = owners
    page = client.get(
        reverse("programs:results", args=[token_a]), pointers_to(token_b, row_b)
    ).content.decode()
    assert "Wuhan-A" in page
    assert "a@example.com" in page
    assert "Shanghai-B" not in page
    assert "b@example.com" not in page
    pdf = client.get(
        reverse("programs:report_kept", args=[token_a, "pdf"]),
        pointers_to(token_b, row_b),
    )
    assert "Wuhan-A" in pdf_text(pdf.content)
    assert "Shanghai-B" not in pdf_text(pdf.content)
    assert client.get(f"/r/{row_b.pk}/").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("programs:profile_edit", {**OWNER_A, "city": "Changed", "employees": "5"}),
        ("programs:answer_questions", {"city": "Changed", "has_bank_loan": "yes"}),
        ("programs:email_link", {"email": "changed@example.com"}),
    ],
)
def test_pointing_a_link_at_another_profile_changes_only_the_links_own(
    client, owners, name, data
):
    (token_a, row_a), (token_b, row_b) = owners
    before_b = profile_state(row_b)
    response = client.post(
        reverse(name, args=[token_a]), {**data, **pointers_to(token_b, row_b)}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert profile_state(row_b) == before_b
    assert profile_state(row_a) != profile_state(row_b)
    row_a.refresh_from_db()
    assert "changed" in f"{row_a.city} {row_a.email}".lower()


def test_deleting_through_one_link_never_deletes_another_profile(client, owners):
    (token_a, row_a), (token_b, row_b) = owners
    before_b = profile_state(row_b)
    response = client.post(
        reverse("programs:profile_delete", args=[token_a]), pointers_to(token_b, row_b)
    )
    assert response.status_code == HTTPStatus.OK
    assert not BusinessProfile.objects.filter(pk=row_a.pk).exists()
    assert not StoredResult.objects.filter(profile_id=row_a.pk).exists()
    assert profile_state(row_b) == before_b
    assert client.get(reverse("programs:results", args=[token_b])).status_code == 200


# -- staff pages and exports ----------------------------------------------------------------

AS_OF = datetime.date(2020, 6, 15)
JD_PROGRAMMES = {"jd-spark", "jd-retail-digitisation", "jd-live-fee-cut"}

#: URL id -> URL
STAFF_URLS = {
    "match report": reverse("admin:programs_match_report"),
    "export csv": reverse("admin:programs_match_report_export", args=["csv"]),
    "export xlsx": reverse("admin:programs_match_report_export", args=["xlsx"]),
    "export pdf": reverse("admin:programs_match_report_export", args=["pdf"]),
    "impact": reverse("admin:programs_programme_impact"),
    "screening page": reverse("screening"),
    "screening template": reverse("screening_template"),
    "stored results": reverse("admin:programs_storedresult_changelist"),
    "business profiles": reverse("admin:programs_businessprofile_changelist"),
    "programmes": reverse("admin:programs_programme_changelist"),
}
OK, FORBIDDEN, LOGIN = HTTPStatus.OK, HTTPStatus.FORBIDDEN, "login"
REPORTS = {
    "match report",
    "export csv",
    "export xlsx",
    "export pdf",
    "screening page",
    "screening template",
}
EXPECTED = {
    "anonymous": dict.fromkeys(STAFF_URLS, LOGIN),
    "shop owner": dict.fromkeys(STAFF_URLS, LOGIN),  # signed in, not staff
    "plain staff": dict.fromkeys(STAFF_URLS, FORBIDDEN),
    "analyst": {url: OK if url in REPORTS else FORBIDDEN for url in STAFF_URLS},
    "partner": {
        url: OK if url in REPORTS | {"stored results"} else FORBIDDEN
        for url in STAFF_URLS
    },
    "superuser": dict.fromkeys(STAFF_URLS, OK),
}


def make_user(role: str) -> User | None:
    if role == "anonymous":
        return None
    user = User.objects.create_user(
        role.replace(" ", "-"),
        password="pw",
        is_staff=role != "shop owner",
        is_superuser=role == "superuser",
    )
    perms = {
        "analyst": ["view_match_report"],
        "partner": ["view_match_report", "view_storedresult"],
    }.get(role, [])
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    if role == "partner":
        PartnerAccount.objects.create(
            user=user, provider=Provider.objects.get(slug="jd")
        )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def stored_matches(catalogue):
    """A business's kept results: a row for every programme, three of them JD's."""
    kept_profile(
        make_profile(business_type="street_stall", employees=1, province="CN-HB"),
        as_of=AS_OF,
        share_contact=True,
        email="stall@example.com",
    )


def content_of(response) -> bytes:
    return (
        b"".join(response.streaming_content) if response.streaming else response.content
    )


def programmes_seen(url_id: str, response) -> set[str]:
    """The programme slugs a page or export shows (None where it shows none)."""
    if url_id == "match report":
        return {slug for slug, _n, _c in response.context["summary"].per_programme}
    if url_id == "export csv":
        text = content_of(response).decode("utf-8-sig")
        return {row["Programme"] for row in csv.DictReader(io.StringIO(text))}
    if url_id == "export xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(content_of(response)), read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        column = rows[0].index("Programme")
        return {row[column] for row in rows[1:]}
    if url_id == "export pdf":
        text = "".join(pdf_text(content_of(response)).split())
        return {
            p.slug
            for p in Programme.objects.all()
            if "".join(p.name_en.split()) in text
        }
    if url_id == "stored results":
        return {r.programme.slug for r in response.context["cl"].queryset}
    return set()


@pytest.mark.parametrize("url_id", STAFF_URLS)
@pytest.mark.parametrize("role", EXPECTED)
def test_staff_pages_and_exports_answer_each_role_as_its_permissions_allow(
    client, request, role, url_id
):
    if role in {"partner", "superuser"}:
        request.getfixturevalue("stored_matches")
    user = make_user(role)
    if user is not None:
        client.force_login(user)
    url = STAFF_URLS[url_id]
    response = client.get(url)
    expected = EXPECTED[role][url_id]
    if expected == LOGIN:
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith(reverse("admin:login"))
        return
    assert response.status_code == expected
    if expected != OK or url_id in {"screening page", "screening template"}:
        return
    seen = programmes_seen(url_id, response)
    every = set(
        StoredResult.objects.values_list("programme__slug", flat=True).distinct()
    )
    if role == "partner":
        assert seen == every & JD_PROGRAMMES
        assert seen  # the partner does see their own rows
    elif url_id in {"match report", "export csv", "export xlsx", "export pdf"}:
        assert seen == every


def test_a_partner_with_the_programme_permission_sees_only_their_providers_impact(
    client, stored_matches
):
    partner = make_user("partner")
    partner.user_permissions.add(Permission.objects.get(codename="view_programme"))
    client.force_login(User.objects.get(pk=partner.pk))
    response = client.get(STAFF_URLS["impact"])
    assert response.status_code == HTTPStatus.OK
    shown = {programme.slug for programme, _counts in response.context["rows"]}
    assert shown == set(
        Programme.objects.filter(provider__slug="jd").values_list("slug", flat=True)
    )


def test_partner_exports_hold_only_contacts_that_consented_to_sharing(
    client, stored_matches
):
    kept_profile(
        make_profile(business_type="convenience_store", needs={"stock_sourcing"}),
        as_of=AS_OF,
        email="private@example.com",
    )
    client.force_login(make_user("partner"))
    text = content_of(client.get(STAFF_URLS["export csv"])).decode("utf-8-sig")
    assert "private@example.com" not in text
    assert "stall@example.com" in text


# -- the screening API ------------------------------------------------------------------------

PROFILE = {"business_type": "farm", "province": "CN-HB", "needs": ["financing"]}


def screening_request(client, endpoint: str, headers: dict[str, str], query: str = ""):
    if endpoint == "json":
        return client.post(
            "/api/v1/screenings" + query,
            json.dumps({"profiles": [PROFILE]}),
            content_type="application/json",
            headers=headers,
        )
    upload = SimpleUploadedFile(
        "rows.csv", b"business_type,province,needs\nfarm,CN-HB,financing\n"
    )
    return client.post(
        "/api/v1/screenings/csv" + query, {"file": upload}, headers=headers
    )


@pytest.mark.parametrize("endpoint", ["json", "csv"])
@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        ("no key", HTTPStatus.UNAUTHORIZED),
        ("unknown key", HTTPStatus.UNAUTHORIZED),
        ("revoked key", HTTPStatus.UNAUTHORIZED),
        ("key in the query string", HTTPStatus.UNAUTHORIZED),
        ("key as a bearer token", HTTPStatus.UNAUTHORIZED),
        ("superuser session, no key", HTTPStatus.UNAUTHORIZED),
        ("valid key", HTTPStatus.OK),
    ],
)
def test_screening_api_answers_only_to_a_valid_key(
    client, endpoint, credential, expected
):
    _row, key = keys.api_key_create(name="access test")
    headers: dict[str, str] = {}
    query = ""
    if credential == "unknown key":
        headers["X-API-Key"] = key[:-2] + ("zz" if not key.endswith("zz") else "yy")
    elif credential == "revoked key":
        ApiKey.objects.update(revoked_at=timezone.now())
        headers["X-API-Key"] = key
    elif credential == "key in the query string":
        query = f"?X-API-Key={key}&api_key={key}&key={key}"
    elif credential == "key as a bearer token":
        headers["Authorization"] = f"Bearer {key}"
    elif credential == "superuser session, no key":
        client.force_login(User.objects.create_superuser("root", password="pw"))
    elif credential == "valid key":
        headers["X-API-Key"] = key
    response = screening_request(client, endpoint, headers, query)
    assert response.status_code == expected
    if expected == HTTPStatus.OK:
        assert response.json()["rows"] == 1


# -- partners in the admin: their own provider's programmes only -------------------------

PARTNER_PERMISSIONS = [
    f"{action}_{model}"
    for action in ("view", "add", "change", "delete")
    for model in ("programme", "criterion", "provider", "source", "partneraccount")
]


@pytest.fixture
def partner_world(db):
    """A partner of provider "own" with every programme permission, and two programmes."""
    own = ProviderFactory(slug="own")
    other = ProviderFactory(slug="other")
    mine = ProgrammeFactory(slug="mine", provider=own)
    theirs = ProgrammeFactory(slug="theirs", provider=other)
    CriterionFactory(programme=mine)
    their_criterion = CriterionFactory(programme=theirs)
    user = User.objects.create_user("partner-editor", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=PARTNER_PERMISSIONS)
    )
    PartnerAccount.objects.create(user=user, provider=own)
    return SimpleNamespace(
        user=User.objects.get(pk=user.pk),
        own=own,
        other=other,
        mine=mine,
        theirs=theirs,
        their_criterion=their_criterion,
    )


def programme_url(name: str, *args) -> str:
    return reverse(f"admin:programs_programme_{name}", args=args)


def unchanged(programme: Programme) -> bool:
    fresh = Programme.objects.filter(pk=programme.pk).first()
    return fresh is not None and (fresh.name_en, fresh.provider_id) == (
        programme.name_en,
        programme.provider_id,
    )


def test_a_partner_lists_only_their_own_providers_programmes(client, partner_world):
    client.force_login(partner_world.user)
    response = client.get(programme_url("changelist"))
    assert response.status_code == HTTPStatus.OK
    assert [p.slug for p in response.context["cl"].queryset] == ["mine"]
    # A search for the other's programme finds nothing either.
    response = client.get(programme_url("changelist") + "?q=theirs")
    assert list(response.context["cl"].queryset) == []


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("view", ["change", "delete", "history", "history_form"])
def test_a_partner_is_refused_another_providers_programme_on_every_page(
    client, partner_world, method, view
):
    theirs = partner_world.theirs
    client.force_login(partner_world.user)
    if view == "history_form":
        version = theirs.history.earliest("history_date").history_id
        url = reverse(
            "admin:programs_programme_simple_history", args=[theirs.pk, version]
        )
    else:
        url = programme_url(view, theirs.pk)
    data = {"post": "yes", "name_en": "Taken over", "provider": partner_world.own.pk}
    response = getattr(client, method)(url, data if method == "post" else None)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert unchanged(theirs)


def test_a_partner_still_opens_their_own_programme_and_its_history(
    client, partner_world
):
    mine = partner_world.mine
    client.force_login(partner_world.user)
    for url in (
        programme_url("change", mine.pk),
        programme_url("history", mine.pk),
        reverse(
            "admin:programs_programme_simple_history",
            args=[mine.pk, mine.history.earliest("history_date").history_id],
        ),
    ):
        assert client.get(url).status_code == HTTPStatus.OK
    form = client.get(programme_url("change", mine.pk)).context["adminform"].form
    assert list(form.fields["provider"].queryset) == [partner_world.own]


def test_a_partner_cannot_add_a_programme_to_another_provider(client, partner_world):
    client.force_login(partner_world.user)
    form = client.get(programme_url("add")).context["adminform"].form
    assert list(form.fields["provider"].queryset) == [partner_world.own]

    response = client.post(
        programme_url("add"),
        {"slug": "planted", "name_en": "Planted", "provider": partner_world.other.pk},
    )
    assert response.status_code == HTTPStatus.OK
    assert "provider" in response.context["adminform"].form.errors
    assert not Programme.objects.filter(slug="planted").exists()


def test_a_revert_cannot_take_back_a_programme_that_moved_to_another_provider(
    client, partner_world
):
    """A programme once the partner's, now another provider's: its old version stays shut."""
    moved = ProgrammeFactory(slug="moved", provider=partner_world.own)
    old_version = moved.history.earliest("history_date").history_id
    moved.provider = partner_world.other
    moved.save()
    client.force_login(partner_world.user)
    url = reverse(
        "admin:programs_programme_simple_history", args=[moved.pk, old_version]
    )
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == HTTPStatus.FORBIDDEN
    assert Programme.objects.get(pk=moved.pk).provider == partner_world.other


@pytest.mark.parametrize("action", ["rematch_selected", "delete_selected"])
def test_bulk_actions_reach_only_the_partners_own_programmes(
    client, partner_world, action
):
    mine, theirs = partner_world.mine, partner_world.theirs
    client.force_login(partner_world.user)
    client.post(
        programme_url("changelist"),
        {
            "action": action,
            "_selected_action": [mine.pk, theirs.pk],
            "post": "yes",  # delete_selected's confirmation
        },
    )
    assert unchanged(theirs)
    assert not BackgroundJob.objects.filter(programme=theirs).exists()
    if action == "delete_selected":
        assert not Programme.objects.filter(pk=mine.pk).exists()
    else:
        assert BackgroundJob.objects.filter(programme=mine).exists()


def test_a_partner_reaches_only_their_own_criteria_and_their_history(
    client, partner_world
):
    criterion = partner_world.their_criterion
    client.force_login(partner_world.user)
    listed = client.get(reverse("admin:programs_criterion_changelist"))
    assert {c.programme.slug for c in listed.context["cl"].queryset} == {"mine"}
    version = criterion.history.earliest("history_date").history_id
    for url in (
        reverse("admin:programs_criterion_change", args=[criterion.pk]),
        reverse("admin:programs_criterion_delete", args=[criterion.pk]),
        reverse("admin:programs_criterion_history", args=[criterion.pk]),
        reverse(
            "admin:programs_criterion_simple_history", args=[criterion.pk, version]
        ),
    ):
        assert client.get(url).status_code == HTTPStatus.FORBIDDEN
        assert client.post(url, {"post": "yes", "value": "1"}).status_code == (
            HTTPStatus.FORBIDDEN
        )
    assert Criterion.objects.get(pk=criterion.pk).value == criterion.value


def test_the_criterion_inline_of_another_programme_cannot_be_edited_through_ones_own(
    client, partner_world
):
    """The inline formset holds only the programme's own criteria: another's id is refused."""
    criterion = partner_world.their_criterion
    client.force_login(partner_world.user)
    page = client.get(programme_url("change", partner_world.mine.pk))
    formset = page.context["inline_admin_formsets"][0].formset
    assert criterion.pk not in {form.instance.pk for form in formset}
    assert {form.instance.programme_id for form in formset} == {partner_world.mine.pk}


def test_a_partner_sees_only_their_own_provider_and_no_partner_accounts(
    client, partner_world
):
    client.force_login(partner_world.user)
    providers = client.get(reverse("admin:programs_provider_changelist"))
    assert list(providers.context["cl"].queryset) == [partner_world.own]
    other = reverse("admin:programs_provider_change", args=[partner_world.other.pk])
    assert client.get(other).status_code == HTTPStatus.FORBIDDEN
    accounts = reverse("admin:programs_partneraccount_changelist")
    assert client.get(accounts).status_code == HTTPStatus.FORBIDDEN
    account = PartnerAccount.objects.get(user=partner_world.user)
    client.post(
        reverse("admin:programs_partneraccount_change", args=[account.pk]),
        {"user": partner_world.user.pk, "provider": partner_world.other.pk},
    )
    assert PartnerAccount.objects.get(pk=account.pk).provider == partner_world.own


@pytest.mark.parametrize("role", ["superuser", "non-partner staff"])
def test_superusers_and_other_staff_keep_every_programme(client, partner_world, role):
    if role == "superuser":
        user = User.objects.create_superuser("root-editor", password="pw")
    else:
        user = User.objects.create_user("staff-editor", password="pw", is_staff=True)
        user.user_permissions.add(
            *Permission.objects.filter(codename__in=PARTNER_PERMISSIONS)
        )
    client.force_login(User.objects.get(pk=user.pk))
    listed = client.get(programme_url("changelist")).context["cl"].queryset
    assert {p.slug for p in listed} == {"mine", "theirs"}
    theirs = partner_world.theirs
    assert client.get(programme_url("change", theirs.pk)).status_code == HTTPStatus.OK
    assert client.get(programme_url("history", theirs.pk)).status_code == HTTPStatus.OK
    form = client.get(programme_url("add")).context["adminform"].form
    assert set(form.fields["provider"].queryset) == {
        partner_world.own,
        partner_world.other,
    }
