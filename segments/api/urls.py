from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from segments.api.views import SegmentViewSet

router = SimpleRouter()
router.register("", SegmentViewSet, basename="segment")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
