"""Production: nothing falls back silently; missing essentials stop the process at start."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ANYMAIL_WEBHOOK_SECRET, BREVO_API_KEY, DATABASES, DEBUG, REDIS_URL, SECRET_KEY, env

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production settings.")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is required in production (no embedded Redis).")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")
if BREVO_API_KEY and not ANYMAIL_WEBHOOK_SECRET:
    # Anymail would accept unauthenticated tracking posts (with a warning): anyone could forge
    # bounces and complaints that suppress real users.
    raise ImproperlyConfigured("ANYMAIL_WEBHOOK_SECRET (user:password) is required when BREVO_API_KEY is set.")

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
