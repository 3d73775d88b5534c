"""
Settings, read from environment variables only (django-environ).

With nothing set, the project runs on one machine with nothing installed: SQLite in the
project folder and a cache shared by every worker process on the host. Production sets
`DATABASE_URL`, `REDIS_URL`, `SECRET_KEY`, `ALLOWED_HOSTS` and leaves `DEBUG` off.
Every variable is listed in `.env.example` and in the README.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local `.env` (git-ignored) fills in variables the environment does not set.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """`SECRET_KEY`, or in DEBUG a random key kept in a git-ignored local file."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. Generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# The API authenticates with a bearer header, never with cookies, so browsers need no
# credentialed CORS.
CORS_ALLOW_CREDENTIALS = False
CORS_URLS_REGEX = r"^/api/.*$"

INSTALLED_APPS = [
    # Django's admin app, with the project's site: its login and password forms share the
    # API's rate limits, lockout and token revocation.
    "admins.apps.AccountsAdminConfig",
    # Before django.contrib.auth, so that its `changepassword` (which records the change as
    # a security event) is the one manage.py runs.
    "admins",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and ReDoc, pinned, served from the project's own static files.
    "drf_spectacular_sidecar",
    "django_ratelimit",
    "django_tasks",
    "django_tasks_db",
    "tokens",
    "accounts",
]

MIDDLEWARE = [
    # Outermost, so a request's time covers the whole stack (config/metrics.py).
    "config.metrics.MetricsMiddleware",
    "config.api.middleware.RequestIDMiddleware",
    "config.api.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The admin site's and Swagger UI's static files, served by the app itself under
    # gunicorn (the nginx in front only proxies), compressed and cached forever.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Browsers' calls to /api/ from the configured origins, above the envelope and the body
    # cap so that their errors carry CORS headers too. With no origin configured it is left
    # out: it would only add `Vary: Origin` to every response.
    *(["corsheaders.middleware.CorsMiddleware"] if CORS_ALLOWED_ORIGINS else []),
    "config.api.middleware.ErrorEnvelopeMiddleware",
    "config.api.middleware.BodySizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Sessions, CSRF, auth and messages serve the Django admin site, and run only on its
    # paths (Django's own, subclassed): the API itself authenticates every request with a
    # bearer token and never reads a cookie.
    "config.api.middleware.SessionMiddleware",
    "config.api.middleware.CsrfViewMiddleware",
    "config.api.middleware.AuthenticationMiddleware",
    "config.api.middleware.MessageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# Paths have one canonical form; the other form is a 404 envelope, never a redirect
# (a redirect would drop a POST's body).
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates (the mails, which a deployment may replace file by
        # file: a volume over templates/mail/) and the docs pages' (config/api/docs.py).
        "DIRS": [BASE_DIR / "templates", BASE_DIR / "config" / "templates"],
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

# --- Database -------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Opening a PostgreSQL connection per request costs more than the request itself:
    # keep connections for the life of the worker.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    # Django's health check is a `SELECT 1` before the first query of every request: a
    # second round trip on every authenticated read. Off by default: a connection that
    # died (a database restart) fails the one request that meets it (503), and Django
    # closes it at that request's end, so the next one reconnects.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    # The token lookup of every authenticated request is a prepared statement (psycopg's,
    # made at its fifth run on a connection; tokens/lookup.py): planning its join cost more
    # than running it. Only that query binds on the server, so only it is ever prepared.
    # Off for a transaction-pooling PgBouncer older than 1.21, which loses statements.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold", 5 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Never ATOMIC_REQUESTS: a refused login answers 401 or 423, and the exception handler's
# rollback would then undo the failure count of the lockout and the login's security
# event. Services hold their own transactions (tokens/events.py).
for _database in DATABASES.values():
    _database["ATOMIC_REQUESTS"] = False

# --- Cache (rate limits, /ready) ------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="authapi"),
            # A cache that does not answer must fail fast (503), not hang a worker.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.SQLiteCache",
            "LOCATION": str(BASE_DIR / env.str("CACHE_PATH", default="cache.sqlite3")),
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="authapi"),
        }
    }

# --- Accounts and passwords -----------------------------------------------------------

AUTH_USER_MODEL = "admins.Admin"
AUTHENTICATION_BACKENDS = ["admins.backends.AdminBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "name", "email")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login throttling and lockout -----------------------------------------------------

MAX_LOGIN_ATTEMPTS = env.int("MAX_LOGIN_ATTEMPTS", default=5)
LOCKOUT_DURATION_MINUTES = env.int("LOCKOUT_DURATION_MINUTES", default=30)
RATE_LIMIT_ATTEMPTS = env.int("RATE_LIMIT_ATTEMPTS", default=5)
RATE_LIMIT_WINDOW_MINUTES = env.int("RATE_LIMIT_WINDOW_MINUTES", default=15)
REGISTER_RATE_LIMIT = env.str("REGISTER_RATE_LIMIT", default="10/h")
# Profile updates (PATCH/PUT of /users/me and /admin/me) per account: a 409 tells whether
# a value is taken, so unthrottled updates would find other people's email and phone.
PROFILE_UPDATE_RATE_LIMIT = env.str("PROFILE_UPDATE_RATE_LIMIT", default="30/h")
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
RATELIMIT_USE_CACHE = "default"
# Fail closed: a rate-limit cache that does not answer means 503, never "unlimited".
RATELIMIT_FAIL_OPEN = False

# --- Two-factor authentication ------------------------------------------------------

# Lifetime of a login's second-factor challenge (`mfa_token`).
MFA_TOKEN_TTL_SECONDS = env.int("MFA_TOKEN_TTL_SECONDS", default=300)
# Admins must enrol a second factor before they may use anything but their own profile.
ADMIN_2FA_REQUIRED = env.bool("ADMIN_2FA_REQUIRED", default=False)
# The key TOTP secrets are encrypted with (any long random string; unset: derived from
# SECRET_KEY), and older keys still accepted for decryption while secrets are re-encrypted
# (`manage.py rotate_2fa_secrets`). See accounts/totp.py and the README.
MFA_ENCRYPTION_KEY = env.str("MFA_ENCRYPTION_KEY", default="")
MFA_ENCRYPTION_KEYS_OLD = env.list("MFA_ENCRYPTION_KEYS_OLD", default=[])

# --- Tokens ---------------------------------------------------------------------------

ACCESS_TOKEN_EXPIRE_MINUTES = env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=60)
REFRESH_TOKEN_EXPIRE_DAYS = env.int("REFRESH_TOKEN_EXPIRE_DAYS", default=14)
# Personal access tokens each account may create (django-ratelimit rate syntax).
TOKEN_CREATE_RATE_LIMIT = env.str("TOKEN_CREATE_RATE_LIMIT", default="10/h")
JWT_ALGORITHM = env.str("ALGORITHM", default="HS256")
if JWT_ALGORITHM not in ("HS256", "HS384", "HS512"):
    # Tokens are signed and verified with one shared secret; an asymmetric algorithm
    # would need a key pair this configuration does not have.
    raise ImproperlyConfigured("ALGORITHM must be one of HS256, HS384, HS512.")
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY

# --- Background tasks and mail -------------------------------------------------------

# Tasks (mails) are rows in the database, written in the transaction of the change they
# report; `manage.py db_worker` runs them.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# A mail server that does not answer must not hold a worker: the delivery is retried.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PRODUCT_NAME = env.str("PRODUCT_NAME", default="Account service")

# --- Account recovery -----------------------------------------------------------------

PASSWORD_RESET_TIMEOUT_MINUTES = env.int("PASSWORD_RESET_TIMEOUT_MINUTES", default=30)
EMAIL_VERIFY_TIMEOUT_HOURS = env.int("EMAIL_VERIFY_TIMEOUT_HOURS", default=48)
SECURE_ACCOUNT_TIMEOUT_DAYS = env.int("SECURE_ACCOUNT_TIMEOUT_DAYS", default=7)
PASSWORD_RESET_RATE_LIMIT = env.str("PASSWORD_RESET_RATE_LIMIT", default="5/h")
# Reset mails per address: over it a request is still answered 202, but nothing is sent
# and no earlier code is ended.
PASSWORD_RESET_EMAIL_LIMIT = env.str("PASSWORD_RESET_EMAIL_LIMIT", default="3/h")
# Code checks (reset confirm, email verification, secure-account) per client IP.
TOKEN_CHECK_RATE_LIMIT = env.str("TOKEN_CHECK_RATE_LIMIT", default="30/h")
# Email verification: `none` (no verification mail at registration, logins never ask),
# `optional` (registration mails a link; `email_verified` shows the state) or `mandatory`
# (as optional, and a right password on an unverified account is 403 EMAIL_NOT_VERIFIED).
EMAIL_VERIFICATION = env.str("EMAIL_VERIFICATION", default="optional")
if EMAIL_VERIFICATION not in ("none", "optional", "mandatory"):
    raise ImproperlyConfigured("EMAIL_VERIFICATION must be one of none, optional, mandatory.")
# New verification mails per account (the resend endpoint, and a login refused for an
# unverified address, which mails a new link): nobody can flood an inbox with them.
EMAIL_VERIFY_RESEND_RATE_LIMIT = env.str("EMAIL_VERIFY_RESEND_RATE_LIMIT", default="3/h")

# --- Security log and metrics ----------------------------------------------------------

# Security events older than this are deleted by `manage.py prune_events`.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# The bearer token `/metrics` requires; unset, `/metrics` is a 404. Under gunicorn set
# PROMETHEUS_MULTIPROC_DIR too (read by prometheus-client itself), so that the samples of
# every worker process are summed (config/metrics.py, gunicorn.conf.py).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Uploads --------------------------------------------------------------------------

# Relative paths are relative to the project folder, wherever the process starts.
MEDIA_ROOT = (BASE_DIR / env.str("UPLOAD_DIR", default="media")).resolve()
MEDIA_URL = "/uploads/"
MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=10)
# An avatar's cost is its pixel count, not its file size: a 100 KB PNG can hold 40
# megapixels. Checked from the header, before decoding.
AVATAR_MAX_PIXELS = env.int("AVATAR_MAX_PIXELS", default=16_000_000)
# Stored avatars are scaled down to this many pixels on their longer side (never up).
AVATAR_MAX_SIDE = env.int("AVATAR_MAX_SIDE", default=1024)
# Avatar uploads each account may make (django-ratelimit rate syntax).
AVATAR_UPLOAD_RATE_LIMIT = env.str("AVATAR_UPLOAD_RATE_LIMIT", default="20/h")
# Non-file request bodies (JSON, form fields) stay small; file uploads are capped by
# MAX_REQUEST_BYTES, checked before the body is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
MAX_REQUEST_BYTES = MAX_UPLOAD_MB * 1024 * 1024 + 256 * 1024
# Stop reading an upload once it passes the cap (a body without Content-Length, or one
# that lies), so a large upload never fills the disk.
FILE_UPLOAD_HANDLERS = [
    "config.api.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 3
FILE_UPLOAD_PERMISSIONS = 0o644
# Absolute URLs (avatar_url) are built from this, never from the request's Host header.
PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000")
# Links in mails point at the client application (each realm's), never at the request's
# Host header: these, joined with the paths below and `?token=<code>`.
FRONTEND_URL = env.str("FRONTEND_URL", default="") or PUBLIC_URL
ADMIN_FRONTEND_URL = env.str("ADMIN_FRONTEND_URL", default="") or FRONTEND_URL
PASSWORD_RESET_PATH = env.str("PASSWORD_RESET_PATH", default="/reset-password")
EMAIL_VERIFY_PATH = env.str("EMAIL_VERIFY_PATH", default="/verify-email")
SECURE_ACCOUNT_PATH = env.str("SECURE_ACCOUNT_PATH", default="/secure-account")
STATIC_URL = "/static/"
# Where collectstatic writes and WhiteNoise serves from when DEBUG is off.
STATIC_ROOT = (BASE_DIR / env.str("STATIC_ROOT", default="staticfiles")).resolve()
# The docs pages' own styles (config/api/docs.py).
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTP security --------------------------------------------------------------------

# TLS ends at the proxy; an API should not answer plain HTTP with a redirect.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Probes call /health and /ready over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [
    # security.W008 (SECURE_SSL_REDIRECT off): TLS ends at the reverse proxy, and an API
    # must not silently redirect plain HTTP (a redirected POST loses its body). API.md
    # makes `false` the default on purpose.
    "security.W008",
    # django_ratelimit.W001 lists only memcached and django-redis as supported. Django's
    # own RedisCache increments atomically too, and the embedded SQLite cache does so in
    # one UPDATE; accounts.checks warns (--deploy) when rate limits are not on Redis.
    "django_ratelimit.W001",
    # auth.W004 (USERNAME_FIELD not unique): usernames are unique case-insensitively, by a
    # unique index on LOWER(username), which the check does not recognise; the backend
    # looks usernames up the same way.
    "auth.W004",
    # security.W003 (CsrfViewMiddleware not in MIDDLEWARE) looks for Django's class by its
    # dotted path. MIDDLEWARE has it, subclassed (config.api.middleware.CsrfViewMiddleware)
    # to run on the admin site's paths only: the API reads no cookie and authenticates
    # with bearer tokens, so a forged cross-site request carries no credential there.
    "security.W003",
]

# --- Internationalisation -------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST framework and OpenAPI -------------------------------------------------------

REST_FRAMEWORK = {
    # Every endpoint names its authentication and permission; the defaults are the safe
    # ones for a view that forgets.
    "DEFAULT_AUTHENTICATION_CLASSES": ["tokens.authentication.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.EnvelopeRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.negotiation.ContentNegotiation",
    # JSON only; a view that takes an upload or a login form names its parsers.
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.EnvelopeAutoSchema",
    "EXCEPTION_HANDLER": "config.api.handlers.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Account and authentication API",
    "DESCRIPTION": (
        "Registration, login sessions, personal access tokens and account administration. "
        "Every response is wrapped in the envelope `{success, message, data | error}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # `success` true or false only, once the enum hook has made its components.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.postprocess_envelopes",
    ],
    # The schema and the docs pages are public and ignore any Authorization header.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The docs pages load nothing from another origin (config/api/docs.py).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        # A pasted token (an admin's too) lives only as long as the page, never in the
        # localStorage of the origin that also serves /admin/.
        "persistAuthorization": False,
        # No badge fetched from validator.swagger.io.
        "validatorUrl": None,
    },
}

# --- Logging --------------------------------------------------------------------------

# One JSON object per line in production; plain text when developing (DEBUG), or with
# LOG_FORMAT=plain. Every request gets one line (logger `config.request`) and every login
# outcome one (`accounts.auth`); staff actions go to `admins.audit` and the other security
# events to `tokens.events`, each from the call that records the event (tokens/events.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "class": "config.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "config.logging.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # config.request logs every request; Django's own line for 4xx/5xx would repeat it.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
