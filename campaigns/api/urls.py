from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from campaigns.api.progress import CampaignProgressView
from campaigns.api.stats import CampaignsStatsView
from campaigns.api.timeline import CampaignTimelineView
from campaigns.api.views import CampaignViewSet

router = SimpleRouter()
router.register("", CampaignViewSet, basename="campaign")

# Before the router's routes, so "stats" is never read as a campaign id.
urlpatterns: list[URLPattern | URLResolver] = [
    path("stats/", CampaignsStatsView.as_view(), name="campaign-stats"),
    path("<int:pk>/progress/", CampaignProgressView.as_view(), name="campaign-progress"),
    path("<int:pk>/timeline/", CampaignTimelineView.as_view(), name="campaign-timeline"),
    *router.urls,
]
