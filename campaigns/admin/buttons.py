"""The campaign page's buttons: each POSTs to its own admin URL and calls the service the API
calls (send, schedule, test, duplicate, archive, an A/B test's "Pick this winner", and the
transitions of the state machine); a
refused action comes back as a message naming the campaign's status. Also the live answers'
URLs (`live`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from campaigns import services
from campaigns.admin import live
from campaigns.admin.forms import ScheduleForm, TestSendForm
from campaigns.models import Campaign
from core.errors import DomainError, StateConflictError

# Button name -> (service, past tense for the success message).
_ACTIONS: dict[str, tuple[Callable[..., Campaign], str]] = {
    "unschedule": (services.campaign_unschedule, "moved back to draft"),
    "pause": (services.campaign_pause, "paused"),
    "resume": (services.campaign_resume, "resumed"),
    "cancel": (services.campaign_cancel, "cancelled"),
}


class CampaignButtons(admin.ModelAdmin):
    """The views behind the campaign page's action bar, mixed into `CampaignAdmin`."""

    def get_urls(self) -> list[URLPattern]:
        def route(name: str, view: Callable[..., HttpResponse]) -> URLPattern:
            return path(
                f"<int:campaign_id>/{name}/",
                self.admin_site.admin_view(require_POST(view)),
                name=f"campaigns_campaign_{name}",
            )

        def page(name: str, view: Callable[[HttpRequest], HttpResponse], method: Callable[..., Any]) -> URLPattern:
            def checked(request: HttpRequest) -> HttpResponse:
                if not (self.has_add_permission(request) or self.has_change_permission(request)):
                    raise PermissionDenied
                return view(request)

            return path(f"live/{name}/", self.admin_site.admin_view(method(checked)), name=f"campaigns_campaign_{name}")

        custom = [
            route(name, getattr(self, f"{name}_view"))
            for name in ("send", "schedule", "test", "duplicate", "archive", "pick_winner")
        ]
        custom += [route(name, self._transition_view(name)) for name in _ACTIONS]
        custom += [
            page("preview", live.preview, require_POST),
            page("audience", live.audience, require_GET),
            page("test_draft", live.test_send, require_POST),
        ]
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
        try:
            services.campaign_send(campaign=campaign, by=request.user)
        except StateConflictError as error:
            campaign.refresh_from_db()
            if campaign.started_at is None:
                messages.error(request, error.message)
            else:
                # Two tabs or a double click: the other request started it. Whichever page the
                # browser shows, it must not read as a failure; the send went out once.
                started = timezone.localtime(campaign.started_at)
                messages.warning(
                    request,
                    f"{error.message} It started at {started:%H:%M:%S} ({started:%Z}), from another tab or click; "
                    "it is sent once.",
                )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Sending has started.")
        return self._back(campaign)

    def schedule_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = self._campaign_for_action(request, campaign_id)
        form = ScheduleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give a date and time to schedule at.")
            return self._back(campaign)
        when = form.when()
        assert isinstance(request.user, User)
        user = request.user
        shown = timezone.localtime(when, when.tzinfo)
        return self._run(
            request,
            campaign,
            lambda: services.campaign_send(campaign=campaign, by=user, scheduled_at=when),
            f"Scheduled for {shown:%Y-%m-%d %H:%M} ({shown.tzinfo}).",
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

    def duplicate_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = self._campaign_for_action(request, campaign_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        assert isinstance(request.user, User)
        try:
            result = services.campaign_duplicate(campaign=campaign, by=request.user)
        except DomainError as error:
            messages.error(request, error.message)
            return self._back(campaign)
        messages.success(
            request, f"Duplicated as “{result.campaign}”, a draft: check the audience and send it when ready."
        )
        for notice in result.notices:
            messages.warning(request, notice)
        return self._back(result.campaign)

    def archive_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        """Publish in the archive once sent, or not: open until the campaign is sent."""
        campaign = self._campaign_for_action(request, campaign_id)
        publish = request.POST.get("archive") == "1"
        done = "It will be published in the archive once sent." if publish else "It stays out of the archive."
        return self._run(
            request,
            campaign,
            lambda: services.campaign_update(campaign=campaign, changes={"archive": publish}),
            done,
        )

    def pick_winner_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        """Decide an A/B test now, while it waits: the remainder is sent this variant."""
        campaign = self._campaign_for_action(request, campaign_id)
        assert isinstance(request.user, User)
        user = request.user
        variant = request.POST.get("variant", "")
        return self._run(
            request,
            campaign,
            lambda: services.campaign_pick_winner(campaign=campaign, variant=variant, by=user),
            f"Variant {variant} picked as the winner: the remaining recipients are being sent it.",
        )

    def _transition_view(self, name: str) -> Callable[..., HttpResponse]:
        service, done = _ACTIONS[name]

        def view(request: HttpRequest, campaign_id: int) -> HttpResponse:
            campaign = self._campaign_for_action(request, campaign_id)
            return self._run(request, campaign, lambda: service(campaign=campaign), f"Campaign {done}.")

        return view
