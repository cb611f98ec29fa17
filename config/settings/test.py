"""Test settings: SQLite in memory and an in-process embedded Redis unless the environment
names real ones (CI sets DATABASE_URL and REDIS_URL to PostgreSQL and Redis)."""

from config.embedded_redis import start_in_thread

from .base import *  # noqa: F403
from .base import REDIS_URL

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
BREVO_API_KEY = ""
ANYMAIL = {"BREVO_API_KEY": "", "BREVO_API_URL": "http://127.0.0.1:9/v3/", "WEBHOOK_SECRET": "hook:secret"}
ANYMAIL_WEBHOOK_SECRET = "hook:secret"
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]

if not REDIS_URL:
    # One embedded Redis-compatible server per test process, so parallel runs never share queues.
    RQ_QUEUE_URL = start_in_thread()
    RQ_QUEUES = {"default": {"URL": RQ_QUEUE_URL, "DEFAULT_TIMEOUT": 600}}
