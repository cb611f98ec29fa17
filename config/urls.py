from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from campaigns.webhooks import BrevoTrackingWebhook

api_patterns: list[URLPattern | URLResolver] = [
    path("auth/", include("accounts.api.urls")),
    path("segments/", include("segments.api.urls")),
    path("campaigns/", include("campaigns.api.urls")),
    path("layouts/", include("campaigns.api.layout_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on pages that name no icon (API docs, JSON): the project's."""
    return HttpResponseRedirect(static("staff/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    # Brevo's tracking webhook (single and batched events) at the path Anymail's own view used, so
    # webhooks configured in Brevo keep working; no other Anymail view is routed.
    path("anymail/brevo/tracking/", BrevoTrackingWebhook.as_view(), name="brevo_tracking_webhook"),
    path("", include("campaigns.urls")),
]

handler404 = "config.api.not_found"
