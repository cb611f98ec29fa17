from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import OptOutMethod
from campaigns.content import readable_subject
from campaigns.layouts import lacks_unsubscribe_link
from segments.models import Membership


class CampaignStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    SCHEDULED = "SCHEDULED", "Scheduled"
    SENDING = "SENDING", "Sending"
    # An A/B test's variants are sent; the remainder waits for the winner (`ab_decide_at`).
    WAITING_FOR_WINNER = "WAITING_FOR_WINNER", "Waiting for the A/B winner"
    PAUSED = "PAUSED", "Paused"
    SENT = "SENT", "Sent"
    CANCELLED = "CANCELLED", "Cancelled"
    FAILED = "FAILED", "Failed"


class WinnerMetric(models.TextChoices):
    OPENS = "opens", "Unique human opens / delivered"
    CLICKS = "clicks", "Unique clicks / delivered"


AB_TEST_SHARE_MIN = 2
AB_TEST_SHARE_DEFAULT = 20
AB_WAIT_MINUTES_DEFAULT = 240
# Thirty days: a test whose result arrives later than that no longer says anything about this send.
AB_WAIT_MINUTES_MAX = 30 * 24 * 60
# A/B tests have 2 to 4 variants, labelled with these letters.
VARIANT_LABELS = ("A", "B", "C", "D")


class Layout(models.Model):
    """A shared frame around campaign bodies (header, styles, footer), with one `{{ content }}` slot."""

    name = models.CharField(max_length=200, unique=True)
    mjml = models.TextField(blank=True, help_text="The layout in MJML, when written so; `html` is compiled from it.")
    html = models.TextField(help_text="HTML with exactly one {{ content }} slot; compiled from `mjml` when given.")
    css = models.TextField(blank=True, help_text="Optional CSS, inlined into every email with the rest.")
    is_default = models.BooleanField(default=False, help_text="New drafts start with this layout.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_layout"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def footer_added(self) -> bool:
        """Emails in this layout get the standard footer: it has no `{{ unsubscribe_url }}`."""
        return lacks_unsubscribe_link(self.html)


class Campaign(models.Model):
    """An email aimed at a preset audience, optionally narrowed by a saved segment."""

    # Staff's name for the campaign, shown on every staff page; recipients only ever see the subject.
    name = models.CharField(max_length=200, blank=True, help_text="Only staff see it. Empty: taken from the subject.")
    subject = models.CharField(max_length=255, help_text="What recipients see in their inbox.")
    preheader = models.CharField(max_length=255, blank=True)
    body_html = models.TextField()
    body_text = models.TextField(blank=True, help_text="Generated from the HTML when empty.")
    from_email = models.EmailField(blank=True, help_text="Defaults to DEFAULT_FROM_EMAIL.")
    from_name = models.CharField(max_length=100, blank=True)
    reply_to = models.EmailField(blank=True)

    # The name predates saved segments and is the API's documented field, so it stays; it holds
    # the membership preset, never a Segment (that is `segment`).
    target_segment = models.CharField(
        max_length=16,
        choices=Membership.choices,
        default=Membership.ALL,
        help_text=(
            "The membership preset the audience starts from (all, active, inactive members or staff); "
            "not a saved segment: `segment`, when set, narrows this preset to the segment's members."
        ),
    )
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    # A finished campaign outlives its segment (the ledger keeps who got it): the name stays here
    # so its page and a duplicate can say which segment it was narrowed by.
    deleted_segment_name = models.CharField(
        max_length=200, blank=True, help_text="The saved segment it was narrowed by, deleted since."
    )

    layout = models.ForeignKey(
        Layout,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text="The frame the body is placed in; none: the body is the whole email.",
    )
    # The body in its layout, frozen when sending begins: every batch, retry, resend and web
    # version sends this, so editing the layout later never changes what was sent.
    sent_html = models.TextField(blank=True, editable=False, help_text="The HTML as sent (body in its layout).")

    archive = models.BooleanField(
        default=False, help_text="Once sent, shown on the public archive (/archive/), without anyone's data."
    )
    # Set when sending begins and never changed: the archive page's address stays the same.
    archive_slug = models.SlugField(max_length=80, blank=True, editable=False)

    status = models.CharField(max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    status_reason = models.TextField(blank=True, help_text="Why the campaign failed, when it did.")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0, help_text="Recipients Brevo accepted so far.")
    # Set by the one transaction that freezes the audience into the ledger; until then a SENDING
    # campaign still needs its start job (the watchdog re-enqueues it if it was lost).
    audience_frozen_at = models.DateTimeField(null=True, blank=True)
    recipients_total = models.PositiveIntegerField(default=0, help_text="Ledger rows written when sending began.")
    # Refreshed each time a batch is claimed: a SENDING campaign that stays quiet has lost its jobs.
    last_claim_at = models.DateTimeField(null=True, blank=True)
    # Set while the sending pace holds it back (a cap reached, quiet hours): it stays SENDING and
    # its batch jobs come back at this time by themselves; cleared by the next claim.
    waiting_until = models.DateTimeField(null=True, blank=True)
    waiting_for = models.CharField(max_length=32, blank=True, help_text="the hourly cap, the daily cap, quiet hours")

    # A/B test (campaigns.services.ab_tests): only with 2 to 4 variants (`variants`).
    ab_test_share = models.PositiveSmallIntegerField(
        "A/B test share",
        default=AB_TEST_SHARE_DEFAULT,
        validators=[MinValueValidator(AB_TEST_SHARE_MIN), MaxValueValidator(100)],
        help_text="Percent of the audience split evenly among the variants; the rest gets the winner. "
        "100: a pure split, no winner.",
    )
    ab_winner_metric = models.CharField(
        "A/B winner metric", max_length=8, choices=WinnerMetric.choices, default=WinnerMetric.OPENS
    )
    ab_wait_minutes = models.PositiveIntegerField(
        "A/B wait (minutes)",
        default=AB_WAIT_MINUTES_DEFAULT,
        validators=[MinValueValidator(1), MaxValueValidator(AB_WAIT_MINUTES_MAX)],
        help_text="Time between the last test batch accepted and the winner's decision (at most 30 days).",
    )
    ab_require_significance = models.BooleanField(
        "A/B requires significance",
        default=True,
        help_text="The best variant wins only if it beats the runner-up at p < 0.05; else variant A is sent.",
    )
    # Set when the last test batch was accepted: the decision runs then (RQ's scheduler, and the
    # periodic sweep if Redis lost that job). Kept through a pause, so resuming does not restart the wait.
    ab_decide_at = models.DateTimeField("A/B decision due", null=True, blank=True, editable=False)
    # Set once, by the one conditional UPDATE that leaves WAITING_FOR_WINNER.
    ab_winner = models.CharField("A/B winner", max_length=1, blank=True, editable=False)
    # {"winner", "rule", "reason", "metric", "p_value", "decided_by", "decided_at", "variants": [{"label",
    # "delivered", "converted", "rate"}]}: see campaigns.services.ab_tests.
    ab_decision = models.JSONField("A/B decision", null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="campaigns_created"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="campaign_status_sched_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["archive_slug"], condition=~models.Q(archive_slug=""), name="campaign_archive_slug_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(ab_test_share__gte=AB_TEST_SHARE_MIN, ab_test_share__lte=100),
                name="campaign_ab_test_share_range",
            ),
            models.CheckConstraint(
                condition=models.Q(ab_wait_minutes__gte=1, ab_wait_minutes__lte=AB_WAIT_MINUTES_MAX),
                name="campaign_ab_wait_range",
            ),
        ]

    def __str__(self) -> str:
        # The services always store a name; rows written otherwise still never show raw placeholders.
        return self.name or readable_subject(self.subject)

    def variant(self, label: str | None) -> CampaignVariant | None:
        """Its A/B variant labelled `label` (None without a label, or when it has none so labelled)."""
        return self.variants.filter(label=label).first() if label else None


class RecipientStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    # In an A/B test's remainder: not claimable until the winner is decided (then PENDING).
    HELD = "HELD", "Held for the A/B winner"
    SENDING = "SENDING", "Sending"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"
    UNKNOWN = "UNKNOWN", "Outcome unknown"


class CampaignRecipient(models.Model):
    """The ledger: one row per recipient, frozen when sending starts."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="campaign_receipts"
    )
    email = models.EmailField()
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    message_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    batch_key = models.UUIDField(null=True, blank=True, help_text="Idempotency key of the batch that claimed it.")
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When its batch key was first used.")
    attempted_at = models.DateTimeField(null=True, blank=True, help_text="When its batch was last sent or retried.")
    sent_at = models.DateTimeField(null=True, blank=True)
    # A/B tests: the variant this person is sent (its label), so every open, click, bounce and
    # unsubscribe recorded on the row counts for that variant. Test rows get theirs in the
    # snapshot; remainder rows (`ab_remainder`) get the winner's when it is decided. Null
    # outside A/B tests.
    variant = models.CharField(max_length=1, null=True, blank=True)
    # A database default too: bulk writers (COPY, INSERT ... SELECT in bench/) name their columns.
    ab_remainder = models.BooleanField(
        default=False,
        db_default=False,
        help_text="In an A/B test's remainder (sent the winner), not in the test share.",
    )

    # What Brevo reported afterwards (campaigns.services.tracking): first times and counts.
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Opens by a person. A click proves one too, so a click sets `first_opened_at` (not the count).
    first_opened_at = models.DateTimeField(null=True, blank=True, help_text="First human open (or click).")
    open_count = models.PositiveIntegerField(default=0, help_text="Human opens.")
    # Opens by a machine: Apple Mail Privacy Protection and similar proxies fetch every image
    # whether or not anyone reads the message (Brevo's proxy_open / unique_proxy_open).
    first_machine_opened_at = models.DateTimeField(null=True, blank=True, help_text="First machine (proxy) open.")
    machine_open_count = models.PositiveIntegerField(default=0, help_text="Machine (proxy) opens.")
    first_clicked_at = models.DateTimeField(null=True, blank=True)
    click_count = models.PositiveIntegerField(default=0)
    # The latest human open or click, so "engaged in the last N days" is one indexed comparison.
    last_engaged_at = models.DateTimeField(null=True, blank=True, help_text="Latest human open or click.")
    soft_bounced_at = models.DateTimeField(null=True, blank=True)
    hard_bounced_at = models.DateTimeField(null=True, blank=True, help_text="Hard bounce or invalid address.")
    blocked_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("campaign", Lower("email"), name="campaign_recipient_email_unique"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="campaign_rcpt_status_idx"),
            models.Index(fields=["batch_key"], name="campaign_rcpt_batch_idx"),
            models.Index(fields=["message_id"], name="campaign_rcpt_message_idx"),
            # Batches in flight, for the watchdog: a tiny index, since rows leave SENDING quickly.
            models.Index(
                fields=["attempted_at"], condition=models.Q(status="SENDING"), name="campaign_rcpt_inflight_idx"
            ),
            # An A/B test's test rows, for its decision: a tenth of a large campaign's rows, where
            # the campaign's other indexes would lead through all of them (the HELD remainder too).
            models.Index(
                fields=["campaign", "variant"],
                condition=models.Q(variant__isnull=False, ab_remainder=False),
                name="campaign_rcpt_ab_test_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


class EngagementSummary(models.Model):
    """Per person, what the engagement criteria ask of the ledger, kept by the database from it
    (triggers on it; migrations 0013 and 0017): exact, and one row per person instead of one per
    person and campaign, so a count reads one row per person and no ledger row at all.

    - `last_received_at`: the latest `sent_at` of their SENT rows;
    - `last_opened_received_at`: the same, over the campaigns they opened (a human open or a click
      on any of their rows of that campaign);
    - `last_engaged_at`: the latest human open or click;
    - `received_campaigns`, `opened_campaigns`, `clicked_campaigns`: the campaigns (ids as keys
      of a JSON object, so "any of these" is the `?|` operator on PostgreSQL and a key lookup on
      SQLite) they received, opened (human open or click) and clicked, over any of their rows.

    So "received a campaign in the last N days and opened none of those" is `last_received_at >=
    since` and not `last_opened_received_at >= since`, and "received one of X and opened none"
    is `received_campaigns ?| X` and not `opened_campaigns ?| X`. No foreign key constraint: a
    person's rows lose their user when the person is deleted or erased, and the trigger then
    drops this row in the same statement, whatever order Django deletes things in.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="engagement_summary",
    )
    last_received_at = models.DateTimeField(null=True)
    last_opened_received_at = models.DateTimeField(null=True)
    last_engaged_at = models.DateTimeField(null=True)
    received_campaigns = models.JSONField(default=dict)
    opened_campaigns = models.JSONField(default=dict)
    clicked_campaigns = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["last_engaged_at", "user"], name="engagement_engaged_idx"),
            models.Index(
                fields=["last_received_at", "last_opened_received_at", "user"], name="engagement_received_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Engagement of user {self.user_id}"


class CampaignVariant(models.Model):
    """One version of an A/B-tested campaign: what it leaves empty comes from the campaign."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=1, choices=[(label, label) for label in VARIANT_LABELS])
    subject = models.CharField(max_length=255, blank=True)
    preheader = models.CharField(max_length=255, blank=True)
    from_name = models.CharField(max_length=100, blank=True)
    body_html = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    # The variant's body in the campaign's layout, frozen with the campaign's `sent_html` when
    # sending begins; empty when the variant keeps the campaign's body.
    sent_html = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["campaign", "label"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "label"], name="campaign_variant_label_unique"),
            models.CheckConstraint(condition=models.Q(label__in=VARIANT_LABELS), name="campaign_variant_label_valid"),
        ]

    def __str__(self) -> str:
        return f"Variant {self.label}"


# The length limits of a variant's text overrides, for the checks that run before it is stored.
VARIANT_MAX_LENGTHS = {
    field.name: field.max_length
    for field in CampaignVariant._meta.fields
    if isinstance(field, models.CharField) and field.max_length is not None and field.name != "label"
}


class SubscriptionChange(models.Model):
    """History of a person's opt-outs and opt-ins: when, from which campaign, and how."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription_changes")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscription_changes"
    )
    opted_out = models.BooleanField(help_text="True for an opt-out, False for an opt-in.")
    method = models.CharField(max_length=16, choices=OptOutMethod.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {'out' if self.opted_out else 'in'} via {self.method}"


# An event whose message id is not known yet (its batch may still be recording ids) or whose
# processing failed is retried by the periodic sweep this many times, then left for a person.
MAX_TRACKING_ATTEMPTS = 3


class TrackingEventStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting to be processed"
    PROCESSED = "PROCESSED", "Processed"
    UNMATCHED = "UNMATCHED", "Unknown message id"
    FAILED = "FAILED", "Processing failed"


class TrackingEvent(models.Model):
    """One webhook event from Brevo, stored as received before anything else happens.

    Brevo drops an event it could not deliver to us, so the row is written first (one INSERT
    that ignores a duplicate `dedup_key`) and processed afterwards, in batches.
    """

    dedup_key = models.CharField(max_length=64, unique=True, help_text="sha256 of message id, event, time, link.")
    esp_event = models.CharField("Brevo event", max_length=32, db_index=True)
    event_type = models.CharField(max_length=16, help_text="Anymail's normalised event type.")
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    email = models.CharField(max_length=254, blank=True)
    link = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField()

    status = models.CharField(max_length=16, choices=TrackingEventStatus.choices, default=TrackingEventStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    recipient = models.ForeignKey(
        CampaignRecipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="tracking_events"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="tracking_events"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The processing queue: small, because processed rows and rows out of attempts leave it.
            models.Index(
                fields=["id"],
                condition=models.Q(status="PENDING")
                | models.Q(status__in=["FAILED", "UNMATCHED"], attempts__lt=MAX_TRACKING_ATTEMPTS),
                name="tracking_event_todo_idx",
            ),
            models.Index(fields=["campaign", "esp_event"], name="tracking_event_campaign_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.esp_event} {self.message_id}"


class ClickTally(models.Model):
    """Clicks of one recipient on one link, carried over from tracking events that retention
    pruned (campaigns.services.retention): per-link reports count these plus the events kept."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="click_tallies")
    recipient = models.ForeignKey(CampaignRecipient, on_delete=models.CASCADE, related_name="click_tallies")
    link = models.TextField()
    # Links can be longer than an index entry may be: uniqueness is kept on their hash.
    link_hash = models.CharField(max_length=64, help_text="sha256 of the link.")
    clicks = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "link_hash"], name="click_tally_recipient_link_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.link} x{self.clicks}"


class CampaignReport(models.Model):
    """A campaign's results summed up once: the funnel, opens and clicks over time, delivery by
    recipient domain, the most clicked links.

    Derived data: `campaigns.services.reports` recomputes it from the ledger and the tracking
    events (one pass each) and the ledger stays the truth. Reading a million-row ledger for
    every chart view or dashboard load would cost seconds; reading this row costs one query.
    """

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, primary_key=True, related_name="report")
    computed_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, help_text="The zone the hourly and daily buckets were cut in.")

    recipients = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0, help_text="Recipients who opened (a person) or clicked.")
    machine_opened = models.PositiveIntegerField(default=0, help_text="Recipients opened only by a machine.")
    clicked = models.PositiveIntegerField(default=0)
    bounced = models.PositiveIntegerField(default=0, help_text="Hard bounces, invalid addresses, Brevo blocks.")
    soft_bounced = models.PositiveIntegerField(default=0)
    complained = models.PositiveIntegerField(default=0)
    unsubscribed = models.PositiveIntegerField(default=0)

    # {"starts": [ISO UTC bucket starts], "<series>": [counts]}; see campaigns.reporting.timeline.
    hourly = models.JSONField(default=dict)
    daily = models.JSONField(default=dict)
    # [{"domain", "recipients", "sent", "delivered", "bounced", ...}]: the top domains, then "other".
    domains = models.JSONField(default=list)
    # [{"link", "clicks", "unique_clicks"}], most clicked first.
    links = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Report of campaign {self.campaign_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class BrevoIncident(models.Model):
    """Brevo's latest trouble of each kind, for the dashboard: the last error and the last rate
    limit (429), wherever they happened (sending, list syncs). One row per kind, overwritten;
    `brevo.answers` reports them and `campaigns.services.incidents` records them."""

    class Kind(models.TextChoices):
        ERROR = "ERROR", "Error"
        RATE_LIMITED = "RATE_LIMITED", "Rate limited (429)"

    kind = models.CharField(max_length=16, choices=Kind.choices, unique=True)
    occurred_at = models.DateTimeField()
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Brevo's HTTP status; empty: no answer.")
    where = models.CharField(max_length=200, help_text="The request, e.g. POST /smtp/email.")
    detail = models.TextField(blank=True)
    count = models.PositiveIntegerField(default=1, help_text="Occurrences since the first one recorded.")

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}: {self.where}"


class SendingPace(models.Model):
    """The sending pace as admins set it at run time: one row (pk 1). Empty fields follow the
    environment (SENDING_MAX_PER_HOUR, SENDING_MAX_PER_DAY, SENDING_QUIET_HOURS)."""

    max_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Messages accepted per clock hour, all campaigns together. 0: no cap."
    )
    max_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Messages accepted per day (site time zone). 0: no cap."
    )
    quiet_from = models.TimeField(null=True, blank=True, help_text="No batch starts from this time…")
    quiet_until = models.TimeField(null=True, blank=True, help_text="…until this one (site time zone).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sending pace"
        verbose_name_plural = "sending pace"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="sending_pace_single_row")]

    def __str__(self) -> str:
        return "Sending pace"


class SendingWindow(models.TextChoices):
    HOUR = "HOUR", "Hour"
    DAY = "DAY", "Day"


class SendingBudget(models.Model):
    """Messages claimed for sending in one hour or day, across every worker and machine: the
    claim of a batch locks its window's rows, so two workers cannot both spend the last of it."""

    window = models.CharField(max_length=8, choices=SendingWindow.choices)
    starts_at = models.DateTimeField()
    used = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["window", "starts_at"], name="sending_budget_window_unique")]

    def __str__(self) -> str:
        return f"{self.window} {self.starts_at:%Y-%m-%d %H:%M}: {self.used}"
