"""The campaign admin's engagement pages: "Follow up with..." on a campaign that went out (each
audience with its live size), and the search behind the segment form's campaign pickers.

`CampaignAdmin` adds these URLs to its own.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.roles import MANAGE_SEGMENTS
from campaigns import services
from campaigns.engagement import FOLLOW_UP_AUDIENCES, NEVER_SENT, follow_up_sizes
from campaigns.models import Campaign
from campaigns.pickers import campaign_label
from campaigns.services.state_machine import campaign_action_allowed
from core.errors import DomainError

# Options per page of the picker's search; select2 asks for the next page as the list scrolls.
SEARCH_PAGE_SIZE = 20


class EngagementAdminMixin(admin.ModelAdmin):
    def engagement_urls(self) -> list[URLPattern]:
        return [
            path(
                "sent-search/",
                self.admin_site.admin_view(self.sent_search_view),
                name="campaigns_campaign_sent_search",
            ),
            path(
                "<int:campaign_id>/follow-up/",
                self.admin_site.admin_view(require_POST(self.follow_up_view)),
                name="campaigns_campaign_follow_up",
            ),
        ]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        campaign = Campaign.objects.select_related("segment").filter(pk=object_id).first() if object_id else None
        if (
            request.method == "GET"
            and campaign is not None
            and campaign_action_allowed(campaign=campaign, action="follow_up")
        ):
            sizes = follow_up_sizes(campaign=campaign)
            extra_context = {
                **(extra_context or {}),
                "follow_ups": [
                    {
                        "audience": audience,
                        "label": label.capitalize(),
                        "size": sizes[audience],
                        "size_text": f"{sizes[audience]:,}",
                    }
                    for audience, (_, label) in FOLLOW_UP_AUDIENCES.items()
                ],
            }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def follow_up_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        """A "Follow up with..." button: the segment and the draft, then the draft's page."""
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if not (self.has_add_permission(request) and self.has_change_permission(request, campaign)):
            raise PermissionDenied
        assert isinstance(request.user, User)
        try:
            draft = services.campaign_follow_up(
                campaign=campaign, by=request.user, audience=request.POST.get("audience", "")
            )
        except DomainError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
        messages.success(
            request,
            f"Follow-up draft “{draft}” made, aimed at the new segment “{draft.segment}”: "
            "check its content and send it when ready.",
        )
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[draft.pk]))

    def sent_search_view(self, request: HttpRequest) -> JsonResponse:
        """Campaigns that began sending whose subject or name contains `term`, newest first, in the answer
        shape of the admin's autocomplete (select2). Open to whoever may edit segments."""
        if not (request.user.has_perm(MANAGE_SEGMENTS) or self.has_view_permission(request)):
            raise PermissionDenied
        term = request.GET.get("term", "").strip()
        page = int(request.GET["page"]) if request.GET.get("page", "").isdigit() else 1
        page = max(page, 1)
        found = Campaign.objects.exclude(status__in=NEVER_SENT).order_by("-started_at", "-pk")
        if term:
            found = found.filter(Q(subject__icontains=term) | Q(name__icontains=term))
        start = (page - 1) * SEARCH_PAGE_SIZE
        rows = list(found.only("pk", "name", "subject", "status", "started_at")[start : start + SEARCH_PAGE_SIZE + 1])
        return JsonResponse(
            {
                "results": [{"id": str(row.pk), "text": campaign_label(row)} for row in rows[:SEARCH_PAGE_SIZE]],
                "pagination": {"more": len(rows) > SEARCH_PAGE_SIZE},
            }
        )
