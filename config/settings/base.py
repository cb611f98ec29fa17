"""Settings shared by every environment; everything that varies comes from the environment.

The variables are documented in `.env.example` and the README's settings table.
"""

from datetime import timedelta
from pathlib import Path

import environ

from config.observability import logging_config, sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"
# Local state (SQLite file, outbox) lives here; a fresh clone has no such folder yet.
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    # django.contrib.admin with the project's site: branded, models grouped by what staff do.
    "config.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "axes",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "django_rq",
    "anymail",
    "accounts",
    "segments",
    "campaigns",
    "demo",
]

MIDDLEWARE = [
    # First: load balancer probes skip host checks, the HTTPS redirect and the request log.
    "config.health.HealthCheckMiddleware",
    "config.observability.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before CommonMiddleware, so preflights and redirects carry the CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.StaffTimeZoneMiddleware",
    # Last: turns the admin login's lock-out into its 429 page (the API answers its own 429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share the file: wait for a lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20})
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Segment counts and previews are index-driven reads on SSD storage. PostgreSQL's defaults
    # (random_page_cost 4, tuned for spinning disks; JIT on) make the planner pick full scans and
    # spend ~200 ms compiling each count: measured 580 ms -> 224 ms on 1M users (docs/BENCHMARKS.md).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", env.str("PG_CONNECTION_OPTIONS", default="-c jit=off -c random_page_cost=1.1")
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Axes first: a locked-out address or IP is refused before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The site's time zone: the archive's dates, the sending pace's days and quiet hours.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Project-wide assets (the vendored chart library, the admin's progress and chart scripts, its
# icon, colours and time zone script); apps keep their own.
STATICFILES_DIRS = [BASE_DIR / "static"]
# Filled by `collectstatic`; WhiteNoise serves it in production (config/settings/production.py).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))

LOGIN_URL = "admin:login"

# --- Queue -----------------------------------------------------------------------------------
# Redis only carries pointers to work (ids); the database stays the source of truth.
# With no REDIS_URL the project runs an embedded Redis-compatible server (config/embedded_redis.py)
# on EMBEDDED_REDIS_PORT, so web, worker and scheduler still share one real queue.
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=6399)
REDIS_URL = env.str("REDIS_URL", default="")
RQ_QUEUE_URL = REDIS_URL or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
RQ_QUEUES = {
    "default": {"URL": RQ_QUEUE_URL, "DEFAULT_TIMEOUT": 600},
}
# RQ's own admin registration lets any staff user in; `accounts.admin` registers the dashboard
# for the ADMIN role only (it can empty queues and requeue or delete campaign jobs).
RQ_SHOW_ADMIN_LINK = False

# --- Email and Brevo -------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="News <news@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
BREVO_API_KEY = env.str("BREVO_API_KEY", default="")
BREVO_API_URL = env.str("BREVO_API_URL", default="https://api.brevo.com/v3/")
BREVO_FOLDER_ID = env.int("BREVO_FOLDER_ID", default=None)
# The contacts client's budget for 5xx answers and dropped connections: tries per call, and the
# base in seconds of its jittered exponential back-off (brevo/contacts.py). 429s wait for
# Brevo's reset header instead and have a budget of their own.
BREVO_RETRY_ATTEMPTS = env.int("BREVO_RETRY_ATTEMPTS", default=5)
BREVO_RETRY_BASE_DELAY = env.float("BREVO_RETRY_BASE_DELAY", default=0.5)
# First wait in seconds between polls of a Brevo import process; it doubles up to 15 s.
BREVO_PROCESS_POLL_DELAY = env.float("BREVO_PROCESS_POLL_DELAY", default=1.0)
ANYMAIL_WEBHOOK_SECRET = env.str("ANYMAIL_WEBHOOK_SECRET", default="")
OUTBOX_DIR = Path(env.str("OUTBOX_DIR", default=str(VAR_DIR / "outbox")))

ANYMAIL = {
    "BREVO_API_KEY": BREVO_API_KEY,
    "BREVO_API_URL": BREVO_API_URL,
}
if ANYMAIL_WEBHOOK_SECRET:
    ANYMAIL["WEBHOOK_SECRET"] = ANYMAIL_WEBHOOK_SECRET

# No ESP configured: every message becomes one .eml file under OUTBOX_DIR. The key alone decides
# (brevo.brevo_configured), for sending and for lists alike.
EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend" if BREVO_API_KEY else "config.mail.OutboxEmailBackend"
# Where a notice to staff goes when the mail backend refuses it (Brevo out of credits, say).
NOTICE_FALLBACK_EMAIL_BACKEND = "config.mail.OutboxEmailBackend"

# --- Campaign sending (campaigns/services/sending/) ------------------------------------------
# Recipients per Brevo request and per batch job. Brevo takes at most 1,000 message versions per
# call; a batch holds this many ledger rows and their params in a worker (about 1 MB).
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=1000)
# Batch chains started per campaign (one job at a time each): about the number of RQ workers.
CAMPAIGN_SEND_CONCURRENCY = env.int("CAMPAIGN_SEND_CONCURRENCY", default=4)
# One Brevo request may take this long before it counts as a timeout (outcome unknown).
CAMPAIGN_SEND_TIMEOUT_SECONDS = env.float("CAMPAIGN_SEND_TIMEOUT_SECONDS", default=30.0)
# Tries of one batch inside a job on 5xx / timeouts / dropped connections, with back-off;
# after that the batch stays claimed under its key and the watchdog takes it over.
CAMPAIGN_SEND_ATTEMPTS = env.int("CAMPAIGN_SEND_ATTEMPTS", default=4)
# Longest 429 wait (x-sib-ratelimit-reset) a job sleeps through; longer ones are re-enqueued.
CAMPAIGN_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("CAMPAIGN_RATE_LIMIT_MAX_WAIT_SECONDS", default=60.0)
# A claimed batch not attempted for this long belongs to a dead job; a SENDING campaign without a
# claim for this long has lost its jobs. Must exceed one attempt (timeout + longest 429 wait).
CAMPAIGN_STALE_SECONDS = env.int("CAMPAIGN_STALE_SECONDS", default=180)
# Brevo runs a request once per idempotency key for about 30 minutes. A batch of unknown outcome
# is retried with its key only this long after the key was first used (5 minutes of margin);
# later its recipients are marked UNKNOWN for an operator to decide (resend_campaign --unknown).
CAMPAIGN_IDEMPOTENCY_WINDOW_SECONDS = env.int("CAMPAIGN_IDEMPOTENCY_WINDOW_SECONDS", default=25 * 60)

# Processed tracking events are deleted after this many days (campaigns.services.retention);
# the ledger keeps what they recorded, and per-link click counts are kept in tallies.
TRACKING_EVENT_RETENTION_DAYS = env.int("TRACKING_EVENT_RETENTION_DAYS", default=90)

# Key of the hash an erased address is kept as (accounts.models.erasure_hash). It must never
# change, or erased people could be emailed again: production requires it, so rotating
# SECRET_KEY cannot change it by accident. Elsewhere SECRET_KEY stands in.
ERASURE_HASH_KEY = env.str("ERASURE_HASH_KEY", default="")

# --- Sending pace (campaigns/services/sending/pace.py) -------------------------------------------
# Messages accepted across all campaigns per clock hour and per day in TIME_ZONE (0: no cap).
# Admins may override them at run time (the "Sending pace" row in the admin).
SENDING_MAX_PER_HOUR = env.int("SENDING_MAX_PER_HOUR", default=0)
SENDING_MAX_PER_DAY = env.int("SENDING_MAX_PER_DAY", default=0)
# No batch starts in this window of TIME_ZONE's clock, e.g. "21:00-08:00" (empty: none).
SENDING_QUIET_HOURS = env.str("SENDING_QUIET_HOURS", default="")
# The function the pace reads the time from (core/clock.py); tests give a controllable one.
SENDING_CLOCK = env.str("SENDING_CLOCK", default="django.utils.timezone.now")

# Title of the public archive of sent campaigns (/archive/) and of its RSS feed.
ARCHIVE_TITLE = env.str("ARCHIVE_TITLE", default="Newsletter archive")

# Postal address printed in campaign footers (CAN-SPAM and most ESPs require one).
SENDER_POSTAL_ADDRESS = env.str("SENDER_POSTAL_ADDRESS", default="Example Ltd, 1 Example Street, London")

# --- API -------------------------------------------------------------------------------------
# Browser origins allowed to call the API (a frontend on its own origin), e.g.
# CORS_ALLOWED_ORIGINS=https://app.example.com. None by default. Such a frontend sends bearer
# tokens: CORS_ALLOW_CREDENTIALS stays off, so browsers never send it the admin's cookie.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
# A frontend reads these to wait out a 429 and to page.
CORS_EXPOSE_HEADERS = ["Retry-After"]

# Reverse proxies in front of the app that append to X-Forwarded-For. 0 (the default) trusts
# only the connection's address, so a client cannot pick its own IP to dodge per-IP limits.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Rates: "<requests>/<second|minute|hour|day>". Counters live in the cache (Redis when
# REDIS_URL is set, so every web process shares them).
API_USER_RATE = env.str("API_USER_RATE", default="300/minute")
API_ANONYMOUS_RATE = env.str("API_ANONYMOUS_RATE", default="60/minute")
# Token requests per client IP and per email address, whether the password is right or not.
LOGIN_RATE = env.str("LOGIN_RATE", default="10/minute")

REST_FRAMEWORK = {
    # Bearer tokens for frontends. The admin's session also works, same-origin only (CSRF
    # checked): CORS never lets another origin send the cookie.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.ListPagination",
    "PAGE_SIZE": 50,
    # JSON in; anything else is a 415 the schema lists. (The admin posts its own forms, not here.)
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.api.throttling.UserRateThrottle",
        "accounts.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": API_USER_RATE,
        "anonymous": API_ANONYMOUS_RATE,
        "login_ip": LOGIN_RATE,
        "login_address": LOGIN_RATE,
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",
    # Every 4xx and 5xx in one format (config.api): drf-standardized-errors' handler, with the
    # project's domain errors mapped into it by the classes below.
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "config.api.ExceptionHandler",
    "EXCEPTION_FORMATTER_CLASS": "config.api.ExceptionFormatter",
    # Validation errors are documented with one schema: an `attr` may name any field sent,
    # unknown ones included, which a per-operation enumeration of fields would refuse.
    "ERROR_SCHEMAS": {
        "400": "core.openapi.BadRequestErrorResponseSerializer",
        "401": "core.openapi.UnauthenticatedErrorResponseSerializer",
        "429": "core.openapi.ThrottledErrorResponseSerializer",
    },
}
# Refresh tokens rotate: each refresh answers a new one and blacklists the old, so a stolen
# refresh token works once at most; logout blacklists the current one.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_TOKEN_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Only the back-office roles get tokens; everyone else is told the same as for a bad password.
    "USER_AUTHENTICATION_RULE": "accounts.api.permissions.may_use_api",
}

# Lock-out after repeated failed logins, for the admin login and the token endpoint alike:
# LOGIN_FAILURE_LIMIT failures for one email address, or from one IP, lock that address or IP
# out for LOGIN_LOCKOUT_MINUTES (counted from the last failure). A successful login resets the
# count; `python manage.py axes_reset` lifts every lock-out at once.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.lockout.login_address"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if TRUSTED_PROXY_COUNT else ["REMOTE_ADDR"]

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Audience mail API",
    "DESCRIPTION": "Segments, Brevo list mirrors and email campaigns for the platform's users.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from the pinned drf-spectacular-sidecar package, served as the
    # project's static files: the docs render offline and load no third-party script.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # drf-standardized-errors' copy of the enum hook keeps its error components apart; then the
    # project's: request bodies refuse unknown fields, 429s carry Retry-After.
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "core.openapi.postprocess_contract",
    ],
    # Several models have a `status` and two fields use the audience presets: one name each.
    "ENUM_NAME_OVERRIDES": {
        # drf-standardized-errors' error types and codes, one component each.
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "RecipientStatusEnum": "campaigns.models.RecipientStatus",
        "MembershipEnum": "segments.models.Membership",
    },
}

# Every process (web, rqworker, rqcron) logs to stderr; LOG_FORMAT=json gives one JSON object
# per line for a log collector, with the ids of what a line is about as keys.
LOGGING = logging_config(log_format=env.str("LOG_FORMAT", default="plain"), level=env.str("LOG_LEVEL", default="INFO"))

# Errors from the web and from RQ jobs go to Sentry when a DSN is given; nothing is sent otherwise.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
