"""The campaign admin's engagement pages: the search behind the segment form's campaign pickers.

`CampaignAdmin` adds these URLs to its own.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path

from accounts.roles import MANAGE_SEGMENTS
from campaigns.engagement import NEVER_SENT
from campaigns.models import Campaign
from campaigns.pickers import campaign_label

# Options per page of the picker's search; select2 asks for the next page as the list scrolls.
SEARCH_PAGE_SIZE = 20


class EngagementAdminMixin(admin.ModelAdmin):
    def engagement_urls(self) -> list[URLPattern]:
        return [
            path(
                "sent-search/",
                self.admin_site.admin_view(self.sent_search_view),
                name="campaigns_campaign_sent_search",
            )
        ]

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
