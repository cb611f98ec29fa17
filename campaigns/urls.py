from django.urls import URLPattern, URLResolver

# Public (non-API) pages such as the unsubscribe confirmation live here.
urlpatterns: list[URLPattern | URLResolver] = []
