"""The staff UI for campaigns: every action calls the same service the API calls.

The change form shows a sandboxed preview, the reachable count (or the ledger counts once sent)
and one button per lifecycle action; each button POSTs to its own admin URL (CSRF protected),
and a refused transition comes back as a message naming the campaign's status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_rq
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.models import User
from campaigns import selectors, services
from campaigns.content import validate_campaign_content
from campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    SubscriptionChange,
    TrackingEvent,
    TrackingEventStatus,
)
from campaigns.reporting.progress import campaign_progress
from campaigns.services.lifecycle import EDITABLE_FIELDS, campaign_action_allowed
from campaigns.services.tracking import tracking_events_reprocess
from campaigns.tracking import process_tracking_events
from core.errors import DomainError, InvalidInputError


class CampaignAdminForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = EDITABLE_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            validate_campaign_content(
                subject=cleaned.get("subject") or "",
                preheader=cleaned.get("preheader") or "",
                body_html=cleaned.get("body_html") or "",
                body_text=cleaned.get("body_text") or "",
            )
        except InvalidInputError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return cleaned


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])


class TestSendForm(forms.Form):
    emails = forms.CharField(help_text="Up to 10 addresses, separated by commas or new lines.")

    def addresses(self) -> list[str]:
        raw: str = self.cleaned_data["emails"]
        return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


# Statuses whose change form shows the live progress bar even before the ledger is written.
_SENDING_STATUSES = (CampaignStatus.SENDING, CampaignStatus.PAUSED)

# Button name -> (service, past tense for the success message).
_ACTIONS: dict[str, tuple[Callable[..., Campaign], str]] = {
    "unschedule": (services.campaign_unschedule, "moved back to draft"),
    "pause": (services.campaign_pause, "paused"),
    "resume": (services.campaign_resume, "resumed"),
    "cancel": (services.campaign_cancel, "cancelled"),
}


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = ("name", "status", "audience", "progress", "scheduled_at", "started_at", "sent_at", "created_at")
    list_filter = ("status", "target_segment")
    search_fields = ("name", "subject")
    list_select_related = ("segment", "created_by")
    date_hierarchy = "created_at"
    raw_id_fields = ("segment",)
    readonly_fields = ("status", "status_reason", "scheduled_at", "started_at", "sent_at", "progress", "created_by")
    fieldsets = (
        ("Message", {"fields": ("name", "subject", "preheader", "body_html", "body_text")}),
        ("Sender", {"fields": ("from_email", "from_name", "reply_to")}),
        ("Audience", {"fields": ("target_segment", "segment")}),
        (
            "Status",
            {"fields": ("status", "status_reason", "scheduled_at", "started_at", "sent_at", "progress", "created_by")},
        ),
    )

    @admin.display(description="Audience")
    def audience(self, campaign: Campaign) -> str:
        preset = campaign.get_target_segment_display()
        return f"{preset} ∩ {campaign.segment.name}" if campaign.segment else preset

    @admin.display(description="Progress (sent / total)")
    def progress(self, campaign: Campaign) -> str:
        if campaign.audience_frozen_at is None:
            return "—"
        return f"{campaign.recipient_count:,} / {campaign.recipients_total:,}"

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        if obj is not None and not campaign_action_allowed(campaign=obj, action="edit"):
            return (*EDITABLE_FIELDS, *self.readonly_fields)
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        deletable = obj is None or campaign_action_allowed(campaign=obj, action="delete")
        return deletable and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Campaign, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        if not change:
            assert isinstance(request.user, User)
            created = services.campaign_create(by=request.user, **data)
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        changed = {name: data[name] for name in form.changed_data if name in data}
        if changed:
            try:
                services.campaign_update(campaign=obj, changes=changed)
            except DomainError as error:
                messages.error(request, error.message)

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        services.campaign_delete(campaign=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            try:
                services.campaign_delete(campaign=campaign)
            except DomainError as error:
                messages.error(request, f"{campaign}: {error.message}")

    def get_urls(self) -> list[URLPattern]:
        def route(name: str, view: Callable[..., HttpResponse]) -> URLPattern:
            return path(
                f"<int:campaign_id>/{name}/",
                self.admin_site.admin_view(require_POST(view)),
                name=f"campaigns_campaign_{name}",
            )

        custom = [route("send", self.send_view), route("schedule", self.schedule_view), route("test", self.test_view)]
        custom += [route(name, self._transition_view(name)) for name in _ACTIONS]
        return custom + super().get_urls()

    def _campaign_for_action(self, request: HttpRequest, campaign_id: int) -> Campaign:
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        return campaign

    def _back(self, campaign: Campaign) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def _run(
        self, request: HttpRequest, campaign: Campaign, call: Callable[[], Any], done: str
    ) -> HttpResponseRedirect:
        try:
            call()
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return self._back(campaign)

    def send_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = self._campaign_for_action(request, campaign_id)
        assert isinstance(request.user, User)
        user = request.user
        return self._run(
            request, campaign, lambda: services.campaign_send(campaign=campaign, by=user), "Sending has started."
        )

    def schedule_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = self._campaign_for_action(request, campaign_id)
        form = ScheduleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give a date and time to schedule at.")
            return self._back(campaign)
        when = form.cleaned_data["scheduled_at"]
        assert isinstance(request.user, User)
        user = request.user
        return self._run(
            request,
            campaign,
            lambda: services.campaign_send(campaign=campaign, by=user, scheduled_at=when),
            f"Scheduled for {timezone.localtime(when):%Y-%m-%d %H:%M %Z}.",
        )

    def test_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = self._campaign_for_action(request, campaign_id)
        form = TestSendForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give at least one address for the test.")
            return self._back(campaign)
        assert isinstance(request.user, User)
        user = request.user
        addresses = form.addresses()
        return self._run(
            request,
            campaign,
            lambda: services.campaign_send_test(campaign=campaign, by=user, emails=addresses),
            f"Test sent to {', '.join(addresses)}.",
        )

    def _transition_view(self, name: str) -> Callable[..., HttpResponse]:
        service, done = _ACTIONS[name]

        def view(request: HttpRequest, campaign_id: int) -> HttpResponse:
            campaign = self._campaign_for_action(request, campaign_id)
            return self._run(request, campaign, lambda: service(campaign=campaign), f"Campaign {done}.")

        return view

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        campaign = Campaign.objects.select_related("segment").filter(pk=object_id).first()
        extra = dict(extra_context or {})
        if campaign is not None:
            extra["campaign_panel"] = self._panel(request, campaign)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _panel(self, request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
        assert isinstance(request.user, User)
        try:
            preview = selectors.campaign_preview(campaign=campaign, user=request.user)
            preview_error = ""
        except InvalidInputError as error:
            preview, preview_error = None, error.message
        frozen = campaign.audience_frozen_at is not None
        stats = selectors.campaign_stats(campaign) if frozen else None
        # The live bar from the moment sending is asked for (the start job may still run).
        show_progress = frozen or campaign.status in _SENDING_STATUSES
        return {
            "campaign": campaign,
            "progress": campaign_progress(campaign=campaign) if show_progress else None,
            "preview": preview,
            "preview_error": preview_error,
            "reachable": None if frozen else selectors.campaign_audience(campaign=campaign).count(),
            "stats": stats,
            # What Brevo reported since: rates and clicks per link (campaigns.services.tracking).
            "rates": selectors.campaign_rates(stats) if stats else None,
            "links": selectors.campaign_link_clicks(campaign=campaign) if frozen else [],
            "recipients_url": reverse("admin:campaigns_campaignrecipient_changelist")
            + f"?campaign__id__exact={campaign.pk}",
            "actions": {
                action: campaign_action_allowed(campaign=campaign, action=action)
                for action in ("send", "schedule", "unschedule", "pause", "resume", "cancel")
            },
            "now": timezone.localtime(),
        }


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
            django_rq.get_queue("default").enqueue(process_tracking_events)
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
