"""Production: nothing falls back silently; missing essentials stop the process at start."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    ANYMAIL_WEBHOOK_SECRET,
    BREVO_API_KEY,
    DATABASES,
    DEBUG,
    ERASURE_HASH_KEY,
    MIDDLEWARE,
    REDIS_URL,
    SECRET_KEY,
    env,
)

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production settings.")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
if not ERASURE_HASH_KEY:
    raise ImproperlyConfigured("ERASURE_HASH_KEY is required in production (erased addresses stay hashed under it).")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is required in production (no embedded Redis).")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")
if BREVO_API_KEY and not ANYMAIL_WEBHOOK_SECRET:
    # Anymail would accept unauthenticated tracking posts (with a warning): anyone could forge
    # bounces and complaints that suppress real users.
    raise ImproperlyConfigured("ANYMAIL_WEBHOOK_SECRET (user:password) is required when BREVO_API_KEY is set.")

# Static files (the admin's CSS and JS) straight from the web process, behind any proxy or none.
# Development serves them with runserver, and the tests need none.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
# `collectstatic` writes them gzip-compressed under content-hashed names, which
# WhiteNoise serves with far-future cache headers; a changed file gets a new name.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS only. TLS ends at a proxy or load balancer, which tells Django the original scheme in
# SECURE_PROXY_SSL_HEADER (a header name; empty when nothing in front sets it). The proxy must
# overwrite that header on every request, or a client could claim HTTPS over plain HTTP.
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", default="X-Forwarded-Proto")
SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https") if _proxy_header else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
# Browsers remember for this long to use HTTPS only. includeSubdomains covers names below this
# host only (not its parent domain); preload is a token that does nothing until someone submits
# the domain to the browsers' preload list.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
