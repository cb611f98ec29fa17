from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from segments.models import Membership


class CampaignStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    SCHEDULED = "SCHEDULED", "Scheduled"
    SENDING = "SENDING", "Sending"
    PAUSED = "PAUSED", "Paused"
    SENT = "SENT", "Sent"
    CANCELLED = "CANCELLED", "Cancelled"
    FAILED = "FAILED", "Failed"


class Campaign(models.Model):
    """An email aimed at a preset audience, optionally narrowed by a saved segment."""

    subject = models.CharField(max_length=255)
    preheader = models.CharField(max_length=255, blank=True)
    body_html = models.TextField()
    body_text = models.TextField(blank=True, help_text="Generated from the HTML when empty.")
    from_email = models.EmailField(blank=True, help_text="Defaults to DEFAULT_FROM_EMAIL.")
    from_name = models.CharField(max_length=100, blank=True)
    reply_to = models.EmailField(blank=True)

    target_segment = models.CharField(max_length=16, choices=Membership.choices, default=Membership.ALL)
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )

    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    status_reason = models.TextField(blank=True, help_text="Why the campaign failed, when it did.")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0, help_text="Recipients Brevo accepted so far.")

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

    def __str__(self) -> str:
        return self.subject


class RecipientStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
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
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("campaign", Lower("email"), name="campaign_recipient_email_unique"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="campaign_rcpt_status_idx"),
            models.Index(fields=["batch_key"], name="campaign_rcpt_batch_idx"),
            models.Index(fields=["message_id"], name="campaign_rcpt_message_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"
