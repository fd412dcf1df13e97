"""
Thin models: the catalogue (providers, programmes, criteria, sources) and
stored business profiles. Eligibility logic lives in ``programs.engine``;
``programs.catalogue.store`` and ``programs.engine.contract`` convert between
these rows and the engine's plain dataclasses.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from programs.engine import contract, matching, rules


def localized(obj: models.Model, name: str) -> str:
    """Return obj.<name>_zh_hans in Chinese (when filled), else obj.<name>_en."""
    language = get_language() or "en"
    if language.startswith("zh") and (zh := getattr(obj, f"{name}_zh_hans", "")):
        return zh
    return getattr(obj, f"{name}_en")


class Provider(models.Model):
    class Kind(models.TextChoices):
        PLATFORM = "platform", _("platform")
        BANK = "bank", _("bank")
        GOVERNMENT = "government", _("government")

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh_hans = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("provider")
        verbose_name_plural = _("providers")

    def __str__(self) -> str:
        return localized(self, "name")


class Programme(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active: availability follows the dates")
        WITHDRAWN = "withdrawn", _("withdrawn: closed whatever the dates")

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    provider = models.ForeignKey(
        Provider, models.PROTECT, related_name="programmes", verbose_name=_("provider")
    )
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh_hans = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    summary_zh_hans = models.TextField(_("summary (Chinese)"), blank=True)
    benefits_en = models.TextField(_("what you get (English)"), blank=True)
    benefits_zh_hans = models.TextField(_("what you get (Chinese)"), blank=True)
    apply_channel_en = models.CharField(
        _("where to apply (English)"), max_length=200, blank=True
    )
    apply_channel_zh_hans = models.CharField(
        _("where to apply (Chinese)"), max_length=200, blank=True
    )
    apply_steps_en = models.TextField(_("how to apply (English)"), blank=True)
    apply_steps_zh_hans = models.TextField(_("how to apply (Chinese)"), blank=True)
    apply_url = models.CharField(_("application link"), max_length=300, blank=True)
    announced_on = models.DateField(_("announced on"), null=True, blank=True)
    opens_on = models.DateField(_("opens on"), null=True, blank=True)
    closes_on = models.DateField(_("closes on"), null=True, blank=True)
    closes_on_assumed = models.BooleanField(
        _("closing date is assumed"),
        default=False,
        help_text=_("Tick when the provider did not document an end date."),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.ACTIVE
    )
    last_verified_on = models.DateField(_("last verified on"), null=True, blank=True)
    days_to_money = models.PositiveIntegerField(
        _("days to money or help"),
        null=True,
        blank=True,
        help_text=_(
            "Typical days from applying to receiving money or help; used for ranking."
        ),
    )
    days_to_money_assumed = models.BooleanField(
        _("days to money is assumed"), default=True
    )
    max_amount_cny = models.DecimalField(
        _("maximum amount (CNY)"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
    )
    needs = models.JSONField(
        _("needs addressed"),
        default=list,
        blank=True,
        help_text=_(
            "Which needs of a business this programme answers; used for ranking."
        ),
    )
    needs_assumed = models.JSONField(
        _("needs addressed by our assumption"),
        default=list,
        blank=True,
        help_text=_(
            "Of the needs above, those the sources do not state: the owner is told "
            "they are our assumption."
        ),
    )
    discretionary_en = models.TextField(
        _("discretionary selection (English)"),
        blank=True,
        help_text=_(
            "When filled, selection is at the provider's discretion and nobody is shown "
            "better than 'possibly eligible'. Say why."
        ),
    )
    discretionary_zh_hans = models.TextField(
        _("discretionary selection (Chinese)"), blank=True
    )
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self) -> str:
        return localized(self, "name")


class Criterion(models.Model):
    class Basis(models.TextChoices):
        DOCUMENTED = matching.Basis.DOCUMENTED, _("documented by the provider")
        ASSUMED = matching.Basis.ASSUMED, _("our assumption")

    programme = models.ForeignKey(
        Programme, models.CASCADE, related_name="criteria", verbose_name=_("programme")
    )
    field = models.CharField(
        _("profile field"), max_length=40, choices=rules.criterion_field_choices
    )
    operator = models.CharField(
        _("operator"), max_length=16, choices=rules.operator_choices
    )
    value = models.JSONField(_("value"))
    group = models.PositiveSmallIntegerField(
        _("group"),
        default=1,
        help_text=_(
            "Criteria in the same group are alternatives; every group must pass."
        ),
    )
    required = models.BooleanField(
        _("required"),
        default=True,
        help_text=_(
            "Untick for a preference: it never excludes, it only raises the score."
        ),
    )
    basis = models.CharField(
        _("basis"), max_length=16, choices=Basis, default=Basis.DOCUMENTED
    )
    explanation_en = models.TextField(_("explanation (English)"), blank=True)
    explanation_zh_hans = models.TextField(_("explanation (Chinese)"), blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["programme", "-required", "group", "id"]
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")

    def __str__(self) -> str:
        """Return the rule as a reader reads it: "规模必须是“微型”或“小型”"."""
        try:
            expected = rules.clean_criterion_value(
                self.field, self.operator, self.value
            )
        except rules.RuleError:  # a stored rule the engine refuses: show it as it is
            return f"{self.field} {self.operator} {self.value}"
        spec = contract.FIELDS[self.field]
        return capfirst(rules.operator(self.operator).clause(spec, expected))


class Source(models.Model):
    class Confidence(models.TextChoices):
        HIGH = "H", _("high: official or several reports agree")
        MEDIUM = "M", _("medium: one reputable report")
        LOW = "L", _("low: thin or garbled source")

    programme = models.ForeignKey(
        Programme, models.CASCADE, related_name="sources", verbose_name=_("programme")
    )
    title = models.CharField(_("title"), max_length=300)
    title_zh_hans = models.CharField(
        _("title explained in Chinese"),
        max_length=300,
        blank=True,
        help_text=_(
            "For a title in another language: shown after the title on Chinese "
            "pages. Leave blank for a Chinese title."
        ),
    )
    url = models.CharField(_("address"), max_length=300, blank=True)
    published_on = models.DateField(_("published on"), null=True, blank=True)
    confidence = models.CharField(
        _("confidence"), max_length=1, choices=Confidence, blank=True
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["programme", "id"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return self.title


class LinkCheck(models.Model):
    """The latest check of one of a programme's links, and its state when verified.

    One row per programme, kind and address (``manage.py check_sources``
    writes them; ``programs.catalogue.link_checks`` says what they mean).
    Rows are tied to the address, not to a ``Source`` row: the catalogue
    loader deletes and recreates a programme's sources whenever the
    programme changes, which would take rows hung on them along; by address
    a check survives that, and a source whose address changed gets a new
    row. Rows of addresses the programme no longer has are ignored, and
    deleted by the next check.

    ``verified_hash`` is the content hash the link had when an admin last
    marked the programme's sources verified (``verified_at``); "changed"
    means the latest content differs from it. A link never verified takes
    its first successful check as that baseline, so changes are noticed from
    the first check on. Verified while broken (empty ``verified_hash``, set
    ``verified_at``): the admin accepted it as gone, and it is not flagged
    as broken again until it has worked once.
    """

    class Kind(models.TextChoices):
        SOURCE = "source", _("source")
        APPLY = "apply", _("application link")

    class Error(models.TextChoices):
        TIMEOUT = "timeout", _("timed out")
        DNS = "dns", _("domain name not found")
        TLS = "tls", _("secure connection (TLS) failed")
        REFUSED = "refused", _("connection refused")
        INVALID = "invalid", _("not a web address")
        OTHER = "other", _("could not be loaded")

    programme = models.ForeignKey(
        Programme,
        models.CASCADE,
        related_name="link_checks",
        verbose_name=_("programme"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind)
    url = models.CharField(_("address"), max_length=300)
    status_code = models.PositiveSmallIntegerField(
        _("HTTP status"), null=True, blank=True
    )
    error = models.CharField(_("error"), max_length=8, choices=Error, blank=True)
    error_detail = models.CharField(_("error detail"), max_length=300, blank=True)
    final_url = models.CharField(_("final address"), max_length=2000, blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    checked_at = models.DateTimeField(_("checked at"))
    verified_hash = models.CharField(
        _("content hash when verified"), max_length=64, blank=True
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)

    class Meta:
        ordering = ["programme", "kind", "url"]
        verbose_name = _("link check")
        verbose_name_plural = _("link checks")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "kind", "url"], name="one_check_per_link"
            )
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def broken(self) -> bool:
        """Return whether the latest check failed: an error, or HTTP status 400 or more."""
        return bool(self.error) or (self.status_code or 0) >= 400

    @property
    def broke_since_verified(self) -> bool:
        """Return whether the link is broken, unless it was already broken when verified."""
        accepted = self.verified_at is not None and not self.verified_hash
        return self.broken and not accepted

    @property
    def changed_since_verified(self) -> bool:
        """Return whether the link works and its content differs from the verified one."""
        return not self.broken and self.content_hash != self.verified_hash


class BusinessProfile(models.Model):
    """A stored profile: the contract's answers plus the derived fields.

    Sets are stored as bit masks (bit i = the i-th code in matching's
    vocabulary) so that "contains any of" is one bitwise test in SQL on
    SQLite and PostgreSQL alike. Derived fields are stored so the database
    filter path tests exactly what the matcher tests.
    """

    business_type = models.CharField(
        _("type of business"), max_length=32, choices=contract.BUSINESS_TYPES
    )
    registration = models.CharField(
        _("registration"),
        max_length=32,
        choices=contract.REGISTRATIONS,
        null=True,
        blank=True,
    )
    province = models.CharField(_("province"), max_length=5, choices=contract.PROVINCES)
    city = models.CharField(_("city"), max_length=100, blank=True)
    employees = models.PositiveIntegerField(
        _("employees"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000_000)],
    )
    annual_revenue_cny = models.DecimalField(
        _("annual revenue (CNY)"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
    )
    years_operating = models.DecimalField(
        _("years in business"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    export_share_pct = models.DecimalField(
        _("export share (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    export_markets_mask = models.IntegerField(
        _("export markets"), null=True, blank=True
    )
    platforms_mask = models.IntegerField(_("platforms"), null=True, blank=True)
    cash_runway_months = models.DecimalField(
        _("months of cash runway (as answered)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
    )
    cash_on_hand_cny = models.DecimalField(
        _("cash on hand (CNY)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    monthly_fixed_costs_cny = models.DecimalField(
        _("monthly fixed costs (CNY)"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
    )
    revenue_change_pct = models.DecimalField(
        _("revenue change (%)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    has_bank_loan = models.BooleanField(_("has a bank loan"), null=True, blank=True)
    bank_credit_cny = models.DecimalField(
        _("total bank credit (CNY)"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
    )
    premises = models.CharField(
        _("premises"), max_length=32, choices=contract.PREMISES, null=True, blank=True
    )
    vat_small_scale = models.BooleanField(
        _("small-scale VAT taxpayer"), null=True, blank=True
    )
    needs_mask = models.IntegerField(_("needs"))

    # Derived, never asked.
    industry = models.CharField(
        _("industry"), max_length=32, choices=contract.INDUSTRIES
    )
    size_class = models.CharField(
        _("size class"),
        max_length=8,
        choices=contract.SIZE_CLASSES,
        null=True,
        blank=True,
    )
    runway_months = models.DecimalField(
        _("months of cash runway"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
    )
    urgency = models.CharField(
        _("urgency"), max_length=8, choices=contract.URGENCIES, null=True, blank=True
    )

    as_of = models.DateField(
        _("results as of"),
        null=True,
        blank=True,
        help_text=_("Empty: the day they are viewed."),
    )

    # Keeping and sharing. Only the SHA-256 of the private link's token is
    # stored, so a copy of the database does not open anyone's results.
    token_hash = models.CharField(
        _("link token hash"), max_length=64, unique=True, null=True, blank=True
    )
    consent_notice_version = models.CharField(
        _("privacy notice version"), max_length=20, blank=True
    )
    consented_at = models.DateTimeField(
        _("consented to keeping at"), null=True, blank=True
    )
    share_contact_consented_at = models.DateTimeField(
        _("consented to sharing contact details at"), null=True, blank=True
    )
    email = models.EmailField(_("email"), blank=True)
    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    alerts_consented_at = models.DateTimeField(
        _("consented to alerts at"),
        null=True,
        blank=True,
        help_text=_(
            "Set while the owner wants an email when a programme newly fits; cleared by unsubscribing."
        ),
    )

    created_at = models.DateTimeField(
        _("submitted at"), default=timezone.now, db_index=True
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("business profile")
        verbose_name_plural = _("business profiles")
        # The retention purge finds profiles by their last change.
        indexes = [models.Index(fields=["updated_at"], name="profile_updated_at")]

    def __str__(self) -> str:
        return f"{self.get_business_type_display()} · {self.get_province_display()} · #{self.pk}"


class StoredResult(models.Model):
    """What a business was told about one programme: the record, with its as-of
    date and the catalogue version it was computed with."""

    # No index of their own: (profile, programme) and (programme, outcome)
    # below start with them, and every index is written on each rematch.
    profile = models.ForeignKey(
        BusinessProfile,
        models.CASCADE,
        related_name="results",
        verbose_name=_("business profile"),
        db_index=False,
    )
    programme = models.ForeignKey(
        Programme,
        models.CASCADE,
        related_name="results",
        verbose_name=_("programme"),
        db_index=False,
    )
    outcome = models.CharField(
        _("outcome"),
        max_length=20,
        choices=[(o.value, label) for o, label in matching.OUTCOME_LABELS.items()],
    )
    near_miss = models.BooleanField(_("near miss"), default=False)
    availability = models.CharField(
        _("availability"),
        max_length=16,
        choices=[(a.value, label) for a, label in matching.AVAILABILITY_LABELS.items()],
    )
    score = models.IntegerField(_("score"), default=0)
    rank = models.PositiveSmallIntegerField(_("rank"))
    as_of = models.DateField(_("as of"))
    catalogue_version = models.CharField(_("catalogue version"), max_length=12)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        ordering = ["profile", "rank"]
        verbose_name = _("stored result")
        verbose_name_plural = _("stored results")
        permissions = [("view_match_report", _("Can view and export match reports"))]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "programme"], name="one_result_per_programme"
            )
        ]
        indexes = [models.Index(fields=["programme", "outcome"])]

    def __str__(self) -> str:
        return f"{self.profile_id} · {self.programme_id} · {self.outcome}"


class PartnerAccount(models.Model):
    """Links a staff user to one provider: a programme partner who sees only
    that provider's matches, and only contacts that consented to sharing."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="partner",
        verbose_name=_("user"),
    )
    provider = models.ForeignKey(
        Provider, models.CASCADE, related_name="partners", verbose_name=_("provider")
    )

    class Meta:
        verbose_name = _("partner account")
        verbose_name_plural = _("partner accounts")

    def __str__(self) -> str:
        return f"{self.user} → {self.provider}"


class ApiKey(models.Model):
    """A key for the bulk screening API. Only its SHA-256 is stored; the key
    itself is shown once, when it is created."""

    name = models.CharField(
        _("name"),
        max_length=100,
        help_text=_("Who uses it, e.g. “Yiwu market association”."),
    )
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(
        _("key hash"), max_length=64, unique=True, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False
    )
    revoked_at = models.DateTimeField(
        _("revoked at"), null=True, blank=True, editable=False
    )
    last_used_at = models.DateTimeField(
        _("last used at"), null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} (rm_{self.prefix}_…)"


class ThrottleCount(models.Model):
    """Requests per client and fixed time window, shared by every web process."""

    key = models.CharField(max_length=120)
    window = models.BigIntegerField()  # window start, in seconds since the epoch
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "window"], name="one_count_per_window"
            )
        ]
        indexes = [models.Index(fields=["window"])]

    def __str__(self) -> str:
        return f"{self.key}@{self.window}: {self.count}"


class SentAlert(models.Model):
    """An alert a business was sent about one programme, so it is never sent twice."""

    class Kind(models.TextChoices):
        FITS = "fits", _("newly fits")
        DEADLINE = "deadline", _("closes soon")

    profile = models.ForeignKey(
        BusinessProfile,
        models.CASCADE,
        related_name="alerts",
        verbose_name=_("business profile"),
    )
    programme = models.ForeignKey(
        Programme, models.CASCADE, related_name="+", verbose_name=_("programme")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind)
    # The tier the business was told about ("eligible", "possibly_eligible"), or
    # the closing date for a deadline reminder: a new reason is a new alert.
    reason = models.CharField(_("reason"), max_length=40)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("sent alert")
        verbose_name_plural = _("sent alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "programme", "kind", "reason"],
                name="one_alert_per_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} · {self.programme_id} · {self.kind} · {self.reason}"


class CatalogueRevision(models.Model):
    """One row whose ``token`` changes whenever any catalogue row changes.

    Database triggers (migration 0006) give ``token`` a new random value
    after every INSERT, UPDATE or DELETE on providers, programmes, criteria
    and sources, whatever made the change: the admin, ``QuerySet.update()``,
    ``bulk_create`` or SQL typed into a shell. Processes read this one row to
    know whether the catalogue they compiled is still current
    (``catalogue.store.current_catalogue``). Tokens are random, never a counter, so
    a value is never reused after the row is recreated.
    """

    token = models.CharField(max_length=32)

    class Meta:
        verbose_name = _("catalogue revision")
        verbose_name_plural = _("catalogue revisions")

    def __str__(self) -> str:
        return self.token


class PurgedTally(models.Model):
    """Counts left by kept profiles deleted after the retention period.

    ``manage.py purge_stale_profiles`` adds these rows in the same
    transaction as it deletes the profiles, so the staff match report's
    summary counts stay the same while no row of a person remains. Each row
    counts the purged profiles (or results) that share every dimension below;
    several rows may share dimensions (one per purge batch): readers sum them.

    Three kinds of row, by which of ``programme`` and ``provider`` are set:

    * programme (and its provider at purge time) set: one count per stored
      result for that programme; ``tiers`` has the one bit of the result's
      (outcome, near miss) class;
    * only provider set: one count per profile that had results for that
      provider's programmes; ``tiers`` has the bits of all of them;
    * neither set: one count per profile, over all its results.

    Bit i of ``tiers`` stands for ``staff.match_report.TIER_CLASSES[i]``; see
    ``staff.match_report.purged_counts`` for how the report reads them.
    """

    month = models.DateField(
        _("month submitted"),
        help_text=_("First day of the month the profiles were submitted."),
    )
    provider = models.ForeignKey(
        Provider,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("provider"),
    )
    programme = models.ForeignKey(
        Programme,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("programme"),
    )
    tiers = models.PositiveSmallIntegerField(_("outcome classes"))
    province = models.CharField(_("province"), max_length=5, choices=contract.PROVINCES)
    business_type = models.CharField(
        _("type of business"), max_length=32, choices=contract.BUSINESS_TYPES
    )
    size_class = models.CharField(
        _("size class"),
        max_length=8,
        choices=contract.SIZE_CLASSES,
        null=True,
        blank=True,
    )
    urgency = models.CharField(
        _("urgency"), max_length=8, choices=contract.URGENCIES, null=True, blank=True
    )
    runway_band = models.PositiveSmallIntegerField(
        _("cash runway band"),
        null=True,
        blank=True,
        help_text=_("Index into the report's runway bands; empty when not known."),
    )
    profiles = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("purged profiles tally")
        verbose_name_plural = _("purged profiles tallies")
        indexes = [models.Index(fields=["month"], name="purgedtally_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} · {self.programme_id or self.provider_id or '*'} · {self.profiles}"


class RecomputedRules(models.Model):
    """The rules a programme's stored results were last recomputed with in full.

    ``rules`` is the programme's fingerprint (``matching.catalogue_version([p])``)
    when a recompute of every stored profile finished (a worker's job, or
    ``rematch``). The match report compares it with the rules now. A table of
    its own: writing it is not a catalogue change, so it must not touch the
    programme row, whose triggers tell every cache the catalogue changed.
    """

    programme = models.OneToOneField(
        Programme,
        models.CASCADE,
        primary_key=True,
        related_name="recomputed_rules",
        verbose_name=_("programme"),
    )
    rules = models.CharField(_("rules fingerprint"), max_length=12)
    recomputed_at = models.DateTimeField(_("recomputed at"), default=timezone.now)

    class Meta:
        verbose_name = _("rules of the stored results")
        verbose_name_plural = _("rules of the stored results")

    def __str__(self) -> str:
        return f"{self.programme_id}: {self.rules}"

    @classmethod
    def record(cls, programme_id: int, rules: str) -> None:
        cls.objects.update_or_create(
            programme_id=programme_id,
            defaults={"rules": rules, "recomputed_at": timezone.now()},
        )


class BackgroundJob(models.Model):
    """Long work done by a worker (``manage.py db_worker``), with its progress.

    The task queue (django-tasks) runs the work and keeps the task's own
    status; this row adds what the admin and the match report show: what
    the job is for, how far it got and what it found. ``task_id`` is the
    task result's id.
    """

    class Kind(models.TextChoices):
        RECOMPUTE = "recompute", _("recompute stored results")
        ALERTS = "alerts", _("send match alerts")
        EXPORT = "export", _("export match rows")
        SCREENING = "screening", _("screen a CSV of businesses")

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting for a worker")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("job"), max_length=16, choices=Kind)
    programme = models.ForeignKey(
        Programme,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="jobs",
        verbose_name=_("programme"),
    )
    state = models.CharField(
        _("state"), max_length=8, choices=State, default=State.QUEUED
    )
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    done = models.PositiveBigIntegerField(_("done so far"), default=0)
    total = models.PositiveBigIntegerField(_("total"), null=True, blank=True)
    #: Figures of what the job found, rendered in the reader's language.
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    #: What the job was asked to do (an export's filters and format, say),
    #: with the requester's language and time zone.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    #: The file the job wrote, in the "job_files" storage, and the name it is
    #: downloaded as; blank until written, and again once purged.
    file = models.CharField(_("file"), max_length=255, blank=True)
    filename = models.CharField(_("download name"), max_length=120, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    enqueued_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-enqueued_at", "-pk"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        # The match report asks for the unfinished jobs on every view.
        indexes = [models.Index(fields=["state"], name="job_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class WrongAnswerReport(models.Model):
    """An owner's word that a result looks wrong, from a results card.

    Always kept: the sentence, the programme, the as-of date and the
    catalogue the answer came from. Only with the owner's consent
    (``consented``): their answers (``profile``, the contract's
    ``Profile.to_dict()``) and the result as shown (``shown``: tier, outcome,
    near miss, availability and the reasons on the card). A report sent
    from kept results belongs to that profile and goes when it is deleted.
    ``programs.journey.feedback`` writes them.
    """

    programme = models.ForeignKey(
        Programme,
        models.CASCADE,
        related_name="wrong_answer_reports",
        verbose_name=_("programme"),
    )
    kept_profile = models.ForeignKey(
        BusinessProfile,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="wrong_answer_reports",
        verbose_name=_("kept profile"),
    )
    sentence = models.TextField(_("what looks wrong"), max_length=1000)
    consented = models.BooleanField(_("answers kept with consent"), default=False)
    as_of = models.DateField(_("as of"))
    catalogue_version = models.CharField(_("catalogue version"), max_length=12)
    catalogue_edition = models.CharField(
        _("catalogue edition"), max_length=100, blank=True
    )
    language = models.CharField(_("language"), max_length=16, blank=True)
    profile = models.JSONField(_("answers"), null=True, blank=True)
    shown = models.JSONField(_("result as shown"), null=True, blank=True)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("wrong-answer report")
        verbose_name_plural = _("wrong-answer reports")
        indexes = [
            models.Index(fields=["programme", "-created_at"], name="wrongreport_prog")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} · {self.programme_id} · {self.created_at:%Y-%m-%d}"


class SavedScenario(models.Model):
    """A scenario made in the admin, usually from an owner's report.

    The same fields as a scenario in ``programs/catalogue/scenarios.toml``;
    ``manage.py check_scenarios`` and the programme's change page run these
    beside the file's (``programs.catalogue.saved_scenarios``). Its TOML
    can be pasted into the file, after which the file's copy is run instead.
    """

    programme = models.ForeignKey(
        Programme,
        models.CASCADE,
        related_name="saved_scenarios",
        verbose_name=_("programme"),
    )
    name = models.SlugField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=300)
    as_of = models.DateField(_("as of"))
    profile = models.JSONField(_("answers"))
    expected = models.CharField(
        _("expected tier"), max_length=20, choices=matching.Tier.choices()
    )
    decided_by = models.CharField(_("decided by"), max_length=40, blank=True)
    availability = models.CharField(
        _("availability"),
        max_length=16,
        blank=True,
        choices=[(a.value, label) for a, label in matching.AVAILABILITY_LABELS.items()],
    )
    fact = models.CharField(_("fact or reason"), max_length=500)
    source = models.CharField(_("source"), max_length=300)
    report = models.ForeignKey(
        WrongAnswerReport,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="scenarios",
        verbose_name=_("from report"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("made by"),
    )
    created_at = models.DateTimeField(_("made at"), default=timezone.now)

    class Meta:
        ordering = ["programme", "name"]
        verbose_name = _("saved scenario")
        verbose_name_plural = _("saved scenarios")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "name"], name="saved_scenario_name_per_programme"
            )
        ]

    def __str__(self) -> str:
        return self.name
