from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from campaigns.api.views import CampaignViewSet

router = SimpleRouter()
router.register("", CampaignViewSet, basename="campaign")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
