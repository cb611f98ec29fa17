"""The records behind campaigns, read-only: the recipients ledger, Brevo's tracking events as
received, and the history of opt-outs and opt-ins."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from campaigns.models import CampaignRecipient, SubscriptionChange, TrackingEvent, TrackingEventStatus
from campaigns.queue import enqueue_tracking_events_process
from campaigns.services.tracking import tracking_events_reprocess


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    """The ledger, read-only. A campaign may have a million rows: no full count, raw ids."""

    list_display = ("email", "campaign_link", "status", "attempts", "message_id", "sent_at", "short_error")
    list_filter = ("status", "campaign")
    search_fields = ("=email",)
    raw_id_fields = ("campaign", "user")
    show_full_result_count = False
    list_per_page = 100
    ordering = ("id",)
    list_select_related = ("campaign",)

    @admin.display(description="Campaign", ordering="campaign")
    def campaign_link(self, row: CampaignRecipient) -> str:
        url = reverse("admin:campaigns_campaign_change", args=[row.campaign_id])
        return format_html('<a href="{}">{}</a>', url, row.campaign)

    @admin.display(description="Last error")
    def short_error(self, row: CampaignRecipient) -> str:
        return row.last_error[:80] + ("…" if len(row.last_error) > 80 else "")

    def get_readonly_fields(self, request: HttpRequest, obj: CampaignRecipient | None = None) -> Any:
        return [field.name for field in CampaignRecipient._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CampaignRecipient | None = None) -> bool:
        return False


@admin.register(TrackingEvent)
class TrackingEventAdmin(admin.ModelAdmin):
    """Brevo's webhook events as received, read-only. Filter by status for events whose message
    id matched no recipient (UNMATCHED) or whose processing failed (FAILED)."""

    list_display = ("received_at", "esp_event", "email", "status", "campaign_link", "short_link", "message_id")
    list_filter = ("status", "esp_event")
    search_fields = ("=message_id", "=email")
    show_full_result_count = False
    list_per_page = 100
    ordering = ("-id",)
    list_select_related = ("campaign",)
    actions = ("process_again",)

    @admin.display(description="Campaign", ordering="campaign")
    def campaign_link(self, event: TrackingEvent) -> str:
        if event.campaign_id is None:
            return "—"
        assert event.campaign is not None
        url = reverse("admin:campaigns_campaign_change", args=[event.campaign_id])
        return format_html('<a href="{}">{}</a>', url, event.campaign)

    @admin.display(description="Link")
    def short_link(self, event: TrackingEvent) -> str:
        return event.link[:60] + ("…" if len(event.link) > 60 else "")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The unknown-id count is a report of its own: a growing number means mail sent from this
        # Brevo account by something else, or ids the sending path failed to record.
        waiting = TrackingEvent.objects.filter(status=TrackingEventStatus.UNMATCHED).count()
        if waiting:
            self.message_user(
                request, f"{waiting} event(s) name a message id no recipient has (status UNMATCHED).", messages.WARNING
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description="Process again (failed or unknown message id)", permissions=["change"])
    def process_again(self, request: HttpRequest, queryset: QuerySet[TrackingEvent]) -> None:
        count = tracking_events_reprocess(ids=queryset.values_list("pk", flat=True))
        if count:
            enqueue_tracking_events_process()
        self.message_user(request, f"{count} event(s) queued for processing again.")

    def get_readonly_fields(self, request: HttpRequest, obj: TrackingEvent | None = None) -> Any:
        return [field.name for field in TrackingEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TrackingEvent | None = None) -> bool:
        return False


@admin.register(SubscriptionChange)
class SubscriptionChangeAdmin(admin.ModelAdmin):
    """Who opted out or back in, when, from which campaign and how; read-only history."""

    list_display = ("created_at", "user", "opted_out", "method", "campaign")
    list_filter = ("opted_out", "method")
    search_fields = ("=user__email",)
    raw_id_fields = ("user", "campaign")
    list_select_related = ("user", "campaign")
    show_full_result_count = False
    ordering = ("-id",)

    def get_readonly_fields(self, request: HttpRequest, obj: SubscriptionChange | None = None) -> Any:
        return [field.name for field in SubscriptionChange._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SubscriptionChange | None = None) -> bool:
        return False
