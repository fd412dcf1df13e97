"""factory_boy factories for database tests."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Permission, User

from programs.catalogue import store
from programs.journey import kept
from programs.models import (
    BusinessProfile,
    Criterion,
    PartnerAccount,
    Programme,
    Provider,
)


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"provider-{n}")
    name_en = factory.Sequence(lambda n: f"Provider {n}")
    name_zh_hans = factory.Sequence(lambda n: f"提供方{n}")
    kind = Provider.Kind.PLATFORM


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme

    slug = factory.Sequence(lambda n: f"programme-{n}")
    provider = factory.SubFactory(ProviderFactory)
    name_en = factory.Sequence(lambda n: f"Programme {n}")
    name_zh_hans = factory.Sequence(lambda n: f"项目{n}")
    needs = factory.LazyFunction(lambda: ["financing"])


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Criterion

    programme = factory.SubFactory(ProgrammeFactory)
    field = "employees"
    operator = "lte"
    value = "20"
    group = 1
    required = True


class BusinessProfileFactory(factory.django.DjangoModelFactory):
    """Build through contract.to_columns so derived columns are right."""

    class Meta:
        model = BusinessProfile

    @classmethod
    def _create(cls, model_class, *args, **kwargs):

        from tests.builders import make_profile

        return kept.profile_create(profile=make_profile(**kwargs))


def kept_profile(profile, *, as_of, **consent):
    """Store a profile with its results as if its owner consented on the form."""

    report = store.run_match(profile=profile, as_of=as_of)
    row, _token = kept.profile_keep(
        profile=profile,
        consent=kept.Consent(store=True, **consent),
        report=report,
        as_of=as_of,
        language="en",
    )
    return row


def staff_user(
    username: str,
    *permissions: str,
    partner: str | None = None,
    superuser: bool = False,
) -> User:
    """A staff account with these permission codenames, partner of a provider's slug."""
    user = User.objects.create_user(
        username, password="pw", is_staff=True, is_superuser=superuser
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    if partner:
        PartnerAccount.objects.create(
            user=user, provider=Provider.objects.get(slug=partner)
        )
    return User.objects.get(pk=user.pk)  # without the cached permissions


def report_viewer(username: str, *, partner: str | None = None) -> User:
    """A staff account allowed to see the match report, partner of a provider's slug."""
    return staff_user(username, "view_match_report", partner=partner)
