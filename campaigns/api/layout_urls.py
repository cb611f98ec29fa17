from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from campaigns.api.layouts import LayoutViewSet

router = SimpleRouter()
router.register("", LayoutViewSet, basename="layout")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
