"""The campaign page: a checklist while it is a draft, a report once it went out.

Draft: name, audience (preset and segment, the reachable count beside them), sender (as
recipients will see it), content (editor beside a live preview; test sends of what the page
holds, saved or not), schedule (in the staff member's time zone), with the actions in a bar at
the top. After: status, progress and results at the top, "Duplicate" instead of Save. Every
button POSTs to its own admin URL and calls the service the API calls; a refused transition
comes back as a message naming the campaign's status.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import construct_change_message
from django.db.models import QuerySet
from django.forms import BaseFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from brevo import brevo_configured
from campaigns import selectors, services
from campaigns.admin.ab_tests import VariantInline, ab_results, free_labels
from campaigns.admin.buttons import CampaignButtons
from campaigns.admin.engagement import EngagementAdminMixin
from campaigns.admin.forms import CampaignAdminForm, VariantFormSet, default_sender
from campaigns.content import sender_header
from campaigns.models import Campaign, CampaignStatus
from campaigns.reporting.progress import campaign_progress, waiting_note
from campaigns.services.lifecycle import EDITABLE_FIELDS
from campaigns.services.state_machine import campaign_action_allowed
from core.errors import DomainError, InvalidInputError
from core.templates import optional_template

# Statuses whose page shows the live progress bar even before the ledger is written.
_SENDING_STATUSES = (CampaignStatus.SENDING, CampaignStatus.WAITING_FOR_WINNER, CampaignStatus.PAUSED)
# The actions the top bar may offer, in its order; the state machine says which apply.
_BAR_ACTIONS = ("send", "schedule", "unschedule", "pause", "resume", "cancel", "duplicate", "archive")

AB_SETTINGS = (
    "5. A/B test (optional)",
    {
        "fields": ("ab_test_share", "ab_winner_metric", "ab_wait_minutes", "ab_require_significance"),
        "classes": ("campaign-ab",),
        "description": "Give two to four variants below and the campaign becomes an A/B test: a random part of "
        "the audience (the test share) is split evenly among them, the winner is decided on the numbers after "
        "the wait, and the rest of the audience is sent the winner. A variant's empty fields take the campaign's, so "
        "an empty A is the control. Rows left as offered: no test, everyone gets the content above.",
    },
)

CHECKLIST = (
    ("1. Name", {"fields": ("name", "archive")}),
    ("2. Audience", {"fields": (("target_segment", "segment"), "reachable_now"), "classes": ("campaign-audience",)}),
    ("3. Sender", {"fields": (("from_name", "from_email"), "sender_as_seen", "reply_to")}),
    (
        "4. Content",
        {
            "fields": ("subject", "preheader", "layout", ("body_html", "live_preview"), "body_text", "test_send"),
            "classes": ("campaign-content",),
        },
    ),
    AB_SETTINGS,
)
REPORT = (
    ("Audience", {"fields": ("audience", "reachable_now")}),
    ("Sender", {"fields": ("sender_as_seen", "reply_to")}),
    ("Content", {"fields": ("subject_as_received", "preheader", "layout", "live_preview")}),
    (
        "History",
        {"fields": ("status", "status_reason", "scheduled_at", "started_at", "sent_at", "created_by", "archive_link")},
    ),
)
_COMPUTED = (
    "reachable_now",
    "sender_as_seen",
    "live_preview",
    "test_send",
    "audience",
    "subject_as_received",
    "archive_link",
    "ab_settings",
    "ab_previews",
)


@admin.register(Campaign)
class CampaignAdmin(EngagementAdminMixin, CampaignButtons, admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = ("name", "status", "audience", "progress", "scheduled_at", "started_at", "sent_at", "created_at")
    list_filter = ("status", "target_segment")
    search_fields = ("name", "subject")
    list_select_related = ("segment", "created_by")
    date_hierarchy = "created_at"
    autocomplete_fields = ("segment",)
    actions = ("duplicate_selected",)
    inlines = (VariantInline,)

    class Media:
        css = {"all": ("campaigns/admin/campaign_form.css",)}
        js = ("campaigns/admin/campaign_form.js",)

    # --- What the page shows ------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        if self._editable(obj):
            return CHECKLIST
        if obj is not None and obj.variants.exists():
            return (*REPORT, ("A/B test", {"fields": ("ab_settings", "ab_previews")}))
        return REPORT

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        # The rows a draft offers come lettered: A and B on a new test, the next free ones after.
        return {**kwargs, "initial": free_labels(obj if obj is not None and obj.pk else None)}

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        if self._editable(obj):
            return _COMPUTED
        return (*EDITABLE_FIELDS, *_COMPUTED, "status", "status_reason", "scheduled_at", "started_at", "sent_at",
                "created_by")  # fmt: skip

    @staticmethod
    def _editable(obj: Campaign | None) -> bool:
        return obj is None or campaign_action_allowed(campaign=obj, action="edit")

    @admin.display(description="Audience")
    def audience(self, campaign: Campaign) -> str:
        preset = campaign.get_target_segment_display()
        if campaign.segment:
            return f"{preset} ∩ {campaign.segment.name}"
        if campaign.deleted_segment_name:
            return f"{preset} ∩ {campaign.deleted_segment_name} (segment deleted since)"
        return preset

    @admin.display(description="Progress (sent / total)")
    def progress(self, campaign: Campaign) -> str:
        if campaign.audience_frozen_at is None:
            return "—"
        return f"{campaign.recipient_count:,} / {campaign.recipients_total:,}"

    @admin.display(description="Reachable now")
    def reachable_now(self, campaign: Campaign) -> SafeString:
        if campaign.audience_frozen_at is not None:
            return format_html("Frozen when sending began: {} recipients.", f"{campaign.recipients_total:,}")
        if campaign.pk is None:
            count, problem = "—", ""
        else:
            reachable = selectors.campaign_audience(campaign=campaign).count()
            count = f"{reachable:,}"
            problem = "" if reachable else selectors.campaign_audience_problem(campaign=campaign)
        return format_html(
            '<p id="campaign-reachable" aria-live="polite"><strong>{}</strong> {} reached now'
            " (verified, not opted out, not suppressed).</p>"
            '<p id="campaign-audience-warning" class="campaign-warning"{}>{}</p>',
            count,
            "user can be" if count == "1" else "users can be",
            "" if problem else SafeString(" hidden"),
            problem,
        )

    @admin.display(description="Settings")
    def ab_settings(self, campaign: Campaign) -> str:
        labels = ", ".join(campaign.variants.values_list("label", flat=True))
        share = (
            f"Every recipient got one of {labels}, split evenly at random; no winner phase."
            if campaign.ab_test_share == 100
            else f"{campaign.ab_test_share} % of the audience split evenly among {labels} at random; the rest is "
            f"sent the winner {campaign.ab_wait_minutes} minutes after the last test email was accepted."
        )
        rule = (
            "The best variant wins only at p < 0.05 against the runner-up, else A."
            if campaign.ab_require_significance
            else "The best rate wins."
        )
        return f"{share} Judged on {campaign.get_ab_winner_metric_display().lower()}. {rule}"

    @admin.display(description="Each variant, as you would get it")
    def ab_previews(self, campaign: Campaign) -> SafeString:
        parts = []
        for variant in campaign.variants.all():
            try:
                rendered = selectors.campaign_preview(campaign=campaign, user=self._viewer, variant=variant)
            except InvalidInputError as error:
                parts.append(format_html("<p>Variant {}: {}</p>", variant.label, error.message))
                continue
            parts.append(
                format_html(
                    '<details class="ab-preview" id="ab-preview-{}"><summary>Variant {}: {}</summary>'
                    '<iframe sandbox="" srcdoc="{}" title="Variant {} preview"></iframe></details>',
                    variant.label,
                    variant.label,
                    rendered.subject,
                    rendered.html,
                    variant.label,
                )
            )
        return format_html_join("", "{}", ((part,) for part in parts))

    @admin.display(description="Public archive")
    def archive_link(self, campaign: Campaign) -> SafeString:
        if not campaign.archive:
            return format_html("{}", "Not published.")
        if campaign.status == CampaignStatus.SENT and campaign.archive_slug:
            url = reverse("archive_detail", args=[campaign.archive_slug])
            return format_html('Published: <a href="{}">{}</a>', url, url)
        return format_html("{}", "Published in the archive once sent.")

    @admin.display(description="Recipients will see")
    def sender_as_seen(self, campaign: Campaign) -> SafeString:
        name, address = default_sender()
        return format_html(
            '<span id="campaign-sender" data-default-name="{}" data-default-address="{}">From: {}</span>',
            name,
            address,
            sender_header(from_name=campaign.from_name, from_email=campaign.from_email),
        )

    @admin.display(description="Subject as you would get it")
    def subject_as_received(self, campaign: Campaign) -> str:
        return self._preview(campaign)[0].subject if self._preview(campaign)[0] else campaign.subject

    @admin.display(description="Preview, as you would get it")
    def live_preview(self, campaign: Campaign) -> SafeString:
        rendered, error = self._preview(campaign)
        # A draft previews the campaign or any A/B variant row on the page (the script fills the
        # choices from the rows); after the draft, each variant is shown in the A/B test section.
        chooser = (
            SafeString(
                '<p class="campaign-preview-choice"><label for="campaign-preview-variant">Showing</label> '
                '<select id="campaign-preview-variant"><option value="">the campaign\'s own content</option>'
                "</select></p>"
            )
            if self._editable(campaign)
            else ""
        )
        return format_html(
            "{}"
            '<p class="campaign-preview-subject">Subject: <strong id="campaign-preview-subject">{}</strong></p>'
            '<p id="campaign-preview-error" class="errornote"{}>{}</p>'
            # An empty sandbox: no scripts, no forms, no same-origin access for the email's HTML.
            '<iframe id="campaign-preview" sandbox="" srcdoc="{}" title="Email preview"></iframe>'
            '<details><summary>Plain-text version</summary><pre id="campaign-preview-text">{}</pre></details>',
            chooser,
            rendered.subject if rendered else "",
            "" if error else SafeString(" hidden"),
            error,
            rendered.html if rendered else "",
            rendered.text if rendered else "",
        )

    @admin.display(description="Send a test")
    def test_send(self, campaign: Campaign) -> SafeString:
        return mark_safe(
            '<div id="campaign-test">'
            '<input type="text" id="campaign-test-emails" name="emails" form="campaign-test-form" size="50" '
            'placeholder="you@example.com, colleague@example.com" aria-label="Test addresses">'
            '<button type="submit" form="campaign-test-form" id="campaign-test-button">Send test</button>'
            '<p class="help">Sends what the preview shows, saved or not (the campaign or the A/B variant chosen '
            "there): subject marked [TEST], your name in the placeholders, nobody recorded as a recipient.</p>"
            '<p id="campaign-test-result" role="status"></p></div>'
        )

    def _preview(self, campaign: Campaign) -> tuple[Any, str]:
        cache = getattr(campaign, "_admin_preview", None)
        if cache is None:
            try:
                cache = (selectors.campaign_preview(campaign=campaign, user=self._viewer), "")
            except InvalidInputError as error:
                cache = (None, error.message)
            campaign._admin_preview = cache  # type: ignore[attr-defined]
        return cache

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        # The readonly displays above render the preview for whoever is looking.
        self._viewer = request.user if isinstance(request.user, User) else None
        return super().render_change_form(request, context, *args, **kwargs)

    _viewer: User | None = None

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        campaign = Campaign.objects.select_related("segment").filter(pk=object_id).first() if object_id else None
        if campaign is not None and request.method == "POST" and not self._editable(campaign):
            # A tab opened before the campaign left draft: the service's own answer, not a form error.
            try:
                services.campaign_update(campaign=campaign, changes={})
            except DomainError as error:
                messages.error(request, error.message)
            return self._back(campaign)
        extra = dict(extra_context or {})
        extra["campaign_page"] = self._page(request, campaign)
        # A campaign is written once at a time: "Save and add another" only invites mistakes.
        extra["show_save_and_add_another"] = False
        if campaign is not None and not self._editable(campaign):
            extra.update(show_save=False, show_save_and_continue=False)
        return super().changeform_view(request, object_id, form_url, extra_context=extra)

    def _page(self, request: HttpRequest, campaign: Campaign | None) -> dict[str, Any]:
        page: dict[str, Any] = {
            "campaign": campaign,
            "brevo": brevo_configured(),
            "accepted_by": "Brevo" if brevo_configured() else "the local outbox",
            "time_zone": timezone.get_current_timezone_name(),
            "progress_template": optional_template("admin/campaigns/campaign/_progress.html"),
            "charts_template": optional_template("admin/campaigns/campaign/_charts.html"),
        }
        if campaign is None:
            return page
        frozen = campaign.audience_frozen_at is not None
        stats = selectors.campaign_stats(campaign) if frozen else None
        # The live bar from the moment sending is asked for (the start job may still run).
        show_progress = bool(page["progress_template"]) and (frozen or campaign.status in _SENDING_STATUSES)
        page.update(
            progress=campaign_progress(campaign=campaign) if show_progress else None,
            stats=stats,
            rates=selectors.campaign_rates(stats) if stats else None,
            links=selectors.campaign_link_clicks(campaign=campaign) if frozen else [],
            recipients_url=reverse("admin:campaigns_campaignrecipient_changelist")
            + f"?campaign__id__exact={campaign.pk}",
            actions={action: campaign_action_allowed(campaign=campaign, action=action) for action in _BAR_ACTIONS},
            waiting=waiting_note(waiting_until=campaign.waiting_until, waiting_for=campaign.waiting_for)
            if campaign.status == CampaignStatus.SENDING
            else "",
            ab=ab_results(campaign),
        )
        return page

    # --- Writes -------------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Campaign, form: forms.ModelForm, change: bool) -> None:
        """Nothing yet: the campaign is written with its variants in `save_related`, one service
        call that checks both together (a variant inherits the content being saved)."""

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        obj = form.instance
        data: dict[str, Any] = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        variant_sets = [formset for formset in formsets if isinstance(formset, VariantFormSet)]
        if not change:
            assert isinstance(request.user, User)
            variants = (variant_sets[0].variants if variant_sets else None) or []
            created = services.campaign_create(by=request.user, **data, variants=variants)
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        changed: dict[str, Any] = {name: data[name] for name in form.changed_data if name in data}
        if variant_sets and variant_sets[0].has_changed():
            changed["variants"] = variant_sets[0].variants or []
        if changed:
            try:
                services.campaign_update(campaign=obj, changes=changed)
            except DomainError as error:
                messages.error(request, error.message)
        obj.refresh_from_db()

    def construct_change_message(
        self, request: HttpRequest, form: forms.Form, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        # The variants are written by the campaign's service, not saved by their formset, which
        # therefore has no record of saved objects for the history: it names them as one field.
        message = construct_change_message(form, [], add)
        if not add and any(isinstance(formset, BaseFormSet) and formset.has_changed() for formset in formsets):
            message.append({"changed": {"fields": ["A/B variants"]}})
        return message

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        deletable = obj is None or campaign_action_allowed(campaign=obj, action="delete")
        return deletable and super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        services.campaign_delete(campaign=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            try:
                services.campaign_delete(campaign=campaign)
            except DomainError as error:
                messages.error(request, f"{campaign}: {error.message}")

    @admin.action(description="Duplicate into new drafts", permissions=["add"])
    def duplicate_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        assert isinstance(request.user, User)
        results = [services.campaign_duplicate(campaign=campaign, by=request.user) for campaign in queryset]
        names = ", ".join(f"“{result.campaign}”" for result in results)
        self.message_user(request, f"{len(results)} draft(s) made: {names}.")
        for result in results:
            for notice in result.notices:
                self.message_user(request, f"“{result.campaign}”: {notice}", level=messages.WARNING)

    def get_urls(self) -> list[URLPattern]:
        # Before the model's own URLs, whose "<object_id>/" would take these paths.
        return self.engagement_urls() + super().get_urls()
