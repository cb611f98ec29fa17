from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Role


class Membership(models.TextChoices):
    """The audience presets campaigns offer, also usable as a segment criterion."""

    ALL = "ALL", "All members"
    ACTIVE = "ACTIVE", "Active members"
    INACTIVE = "INACTIVE", "Inactive members"
    STAFF = "STAFF", "Staff (admins, managers, staff)"


class Segment(models.Model):
    """A saved, rule-based audience. Criteria combine with AND; values within one with OR."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    gender = models.CharField(max_length=32, blank=True, help_text="Empty: any gender.")
    properties = models.ManyToManyField("accounts.Property", blank=True, related_name="segments")
    countries = models.JSONField(default=list, blank=True, help_text="ISO 3166-1 alpha-2 codes.")
    states = models.JSONField(default=list, blank=True)
    traffic_sources = models.JSONField(default=list, blank=True)
    agents = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="segments_as_agent", limit_choices_to={"role": Role.AGENT}
    )
    partners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="segments_as_partner",
        limit_choices_to={"role": Role.PARTNER},
    )
    membership = models.CharField(max_length=16, choices=Membership.choices, default=Membership.ALL)
    # Criteria other apps contribute (segments.criteria_providers), by field name, as their
    # providers cleaned them: the engine stores them without knowing what they mean.
    extra_criteria = models.JSONField(default=dict, blank=True)

    brevo_list_id = models.BigIntegerField(null=True, blank=True, unique=True)
    # Cached member counts for lists (admin changelist, API list): counting a million users per
    # row would make every list page slow. segments.services refreshes them on every write, on
    # opening a preview or the admin form, and on demand; counts_refreshed_at says how fresh.
    matching_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    reachable_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    counts_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="segments_created"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="segments_segment_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class ExportStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    SUCCESS = "SUCCESS", "Success"
    FAILED = "FAILED", "Failed"


# What a sync reports, in the order staff read it: the admin's history and the API show the same.
EXPORT_REPORT_FIELDS = (
    "status",
    "users_count",
    "added_count",
    "removed_count",
    "error_message",
    "exported_by",
    "created_at",
    "started_at",
    "finished_at",
    "full",
)


class SegmentExport(models.Model):
    """One sync of a segment to its Brevo list, with what it changed."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    users_count = models.PositiveIntegerField(default=0)
    added_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="segment_exports"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    full = models.BooleanField(default=False, help_text="Re-import every member, not only the changes.")
    # Touched by the running job after each step; a RUNNING export whose heartbeat stopped
    # belongs to a worker that died and is failed by the recovery job.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["segment", "-created_at"], name="seg_export_segment_created_idx")]
        constraints = [
            # One sync of a segment at a time, decided by the database whatever the race.
            models.UniqueConstraint(
                fields=["segment"],
                condition=Q(status__in=["PENDING", "RUNNING"]),
                name="seg_export_one_active_per_segment",
            )
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} of segment {self.segment_id} ({self.status})"


class SegmentListMember(models.Model):
    """An address last exported to a segment's Brevo list, with the attributes it was sent with.

    The next sync diffs the segment against these rows in the database: who to import (new or
    changed) and who to remove, without reading the Brevo list back.
    """

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="list_members")
    # Stored lower-cased (Brevo lower-cases addresses too), so (segment, email) is unique
    # case-insensitively and lookups use the plain index.
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    # The user's phone as stored (the SMS attribute is derived from it), so "changed since the
    # last export" is a plain column comparison in SQL.
    phone = models.CharField(max_length=32, blank=True)
    exported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "email"], name="seg_list_member_unique"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="seg_list_member_email_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.email} in list of segment {self.segment_id}"


class BrevoSetting(models.Model):
    """Values the project learns from Brevo and must remember, such as the folder it created."""

    FOLDER_ID = "folder_id"

    key = models.CharField(max_length=64, unique=True)
    value = models.CharField(max_length=255)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class SegmentSnapshot(models.Model):
    """A saved segment's size on one day (the site's time zone), kept by the daily snapshot job."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    matching = models.PositiveIntegerField()
    reachable = models.PositiveIntegerField()
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["segment", "day"]
        constraints = [models.UniqueConstraint(fields=["segment", "day"], name="segment_snapshot_one_per_day")]

    def __str__(self) -> str:
        return f"Segment {self.segment_id} on {self.day}: {self.reachable}/{self.matching}"


class AudienceSnapshot(models.Model):
    """The whole audience on one day: everyone, who can be emailed, who opted out, who is suppressed."""

    day = models.DateField(unique=True)
    users = models.PositiveIntegerField()
    reachable = models.PositiveIntegerField(help_text="Verified, not opted out, not suppressed.")
    opted_out = models.PositiveIntegerField()
    suppressed = models.PositiveIntegerField(help_text="Users whose address is on the suppression list.")
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"Audience on {self.day}: {self.reachable}/{self.users}"
