from django.urls import URLPattern, URLResolver, path

from campaigns import archive, views

# Public (non-API) pages: reached from campaign email, and the archive of sent campaigns.
urlpatterns: list[URLPattern | URLResolver] = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/resubscribe/", views.resubscribe, name="resubscribe"),
    path("email/<str:token>/", views.web_version, name="web_version"),
    path("archive/", archive.archive_index, name="archive_index"),
    path("archive/feed/", archive.archive_feed, name="archive_feed"),
    path("archive/<slug:slug>/", archive.archive_detail, name="archive_detail"),
]
