from django.urls import URLPattern, URLResolver, path

from campaigns import views

# Public (non-API) pages reached from campaign email.
urlpatterns: list[URLPattern | URLResolver] = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/resubscribe/", views.resubscribe, name="resubscribe"),
]
