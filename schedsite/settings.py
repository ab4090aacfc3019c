"""Settings, read from the environment with safe defaults (see README: Configuration)."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "jobs.api.middleware.BodySizeLimitMiddleware",
    "jobs.api.middleware.QueryTextMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "schedsite.urls"
WSGI_APPLICATION = "schedsite.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# Database: PostgreSQL in production, SQLite (WAL, busy timeout) by default.
_default_sqlite = f"sqlite:///{VAR_DIR / 'sched.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL") or _default_sqlite
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # clone, run, it works
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env_float("SQLITE_BUSY_TIMEOUT", 30.0),  # seconds
    }
    _db["TEST"] = {"NAME": str(VAR_DIR / "test-sched.sqlite3")}
else:
    # No OPTIONS["pool"]: a pool shared across prefork children breaks (celery 9953).
    _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)  # seconds
    _db["CONN_HEALTH_CHECKS"] = True
    # A process that stalls inside a transaction (frozen, partitioned from the database)
    # keeps its row locks: the reaper skips locked runs, so what it had locked could never
    # be recovered (tests/faults: a SIGSTOPped worker). PostgreSQL ends a session idle in a
    # transaction after this long, releasing them; the product's transactions take
    # milliseconds. 0 turns it off.
    _idle_tx = env_float("DB_IDLE_IN_TRANSACTION_TIMEOUT", 60.0)  # seconds
    if _idle_tx > 0:
        _options = _db.setdefault("OPTIONS", {})
        _options["options"] = (
            f"{_options.get('options', '')} "
            f"-c idle_in_transaction_session_timeout={int(_idle_tx * 1000)}"
        ).strip()

# The worker's two hot statements (jobs/runner_sql.py) are prepared once per connection on
# PostgreSQL. Off for a pooler that loses them between transactions (PgBouncer < 1.21 in
# transaction mode).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Static files (admin, browsable API, offline Swagger UI) are served by WhiteNoise;
# without collectstatic they are found in the apps' folders.
WHITENOISE_USE_FINDERS = True

# bytes: a larger request body is refused with 413 (room for a base64 script upload)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 12 * 1024 * 1024)

# Uploaded scripts are stored through Django's storage API: local files under
# var/media by default; any backend by configuration only, e.g. S3-compatible:
# STORAGE_BACKEND=storages.backends.s3.S3Storage with AWS_STORAGE_BUCKET_NAME,
# AWS_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (django-storages).
MEDIA_ROOT = env_str("MEDIA_ROOT", str(VAR_DIR / "media"))
# Stored scripts are code: readable by the service's user only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {
        "BACKEND": env_str("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "jobs.api.pagination.CappedLimitOffsetPagination",
    # JSON nested deeper than API_MAX_JSON_DEPTH, NUL and lone surrogates: 400 (parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "jobs.api.parsers.JSONParser",
        "jobs.api.parsers.FormParser",
        "jobs.api.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "jobs.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Input bounds of the API (docs/security.md, Input limits): the largest page `?limit=`
# may ask for (more is a 400), and the deepest nesting of a JSON body (arrays, objects).
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 64)

SPECTACULAR_SETTINGS = {
    "TITLE": "Scheduler API",
    "DESCRIPTION": "Schedule HTTP requests and other jobs; see README.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: Redis broker; results live in the database (Run rows), not in Celery.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport, made to survive a Redis restart (see schedsite/celery.py); for
# redis:// URLs only (rediss://, sentinel:// keep kombu's own transports).
if REDIS_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "schedsite.celery:RedisTransport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("WORKER_PREFETCH_MULTIPLIER", 4)
CELERY_WORKER_TIMER_PRECISION = 0.01  # seconds: ETA messages start on time
CELERY_WORKER_ETA_TASK_LIMIT = env_int("WORKER_ETA_TASK_LIMIT", 20000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # ETAs are seconds ahead (DISPATCH_LOOKAHEAD), far below this.
    "visibility_timeout": env_int("BROKER_VISIBILITY_TIMEOUT", 3600),  # seconds
}
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "jobs.beat:DispatchingScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the thread's database connections before and after every
# task unless this is set: a new PostgreSQL connection per run. Connections are kept and
# closed by Django's own rules (CONN_MAX_AGE, errors, health checks) instead, through
# close_old_connections() around each task (schedsite/celery.py).
CELERY_DB_REUSE_MAX = 10**9

# Scheduler behaviour (seconds unless named otherwise).
SCHED = {
    "DISPATCH_INTERVAL": env_float("DISPATCH_INTERVAL", 0.25),
    "DISPATCH_LOOKAHEAD": env_float("DISPATCH_LOOKAHEAD", 2.0),
    "DISPATCH_BATCH": env_int("DISPATCH_BATCH", 1000),
    # Runs of a queue in DISPATCH_BUNDLE_QUEUES due within DISPATCH_BUNDLE_WINDOW seconds of
    # each other go to a worker in one message, at most DISPATCH_BUNDLE of them (1: a
    # message per run). Other queues' runs (processes, containers) go one per message.
    "DISPATCH_BUNDLE": env_int("DISPATCH_BUNDLE", 8),
    "DISPATCH_BUNDLE_WINDOW": env_float("DISPATCH_BUNDLE_WINDOW", 0.05),
    "DISPATCH_BUNDLE_QUEUES": env_list("DISPATCH_BUNDLE_QUEUES", "http"),
    # Threads that run runs in a worker process (jobs/bundle.py), when Celery does not
    # give its own concurrency (the worker sets it from --concurrency).
    "WORKER_RUN_THREADS": env_int("WORKER_CONCURRENCY", 16),
    "MESSAGE_EXPIRES": env_float("MESSAGE_EXPIRES", 300.0),
    "REPUBLISH_AFTER": env_float("REPUBLISH_AFTER", 30.0),
    # How often beat runs the reaper (lost messages, dead workers); any fraction of a second.
    "REAP_INTERVAL": env_float("REAP_INTERVAL", 5.0),
    "HEARTBEAT_INTERVAL": env_float("HEARTBEAT_INTERVAL", 5.0),
    "LOST_AFTER": env_float("LOST_AFTER", 30.0),
    "DEFAULT_MISFIRE_GRACE": env_float("DEFAULT_MISFIRE_GRACE", 3600.0),
    "HTTP_DEFAULT_TIMEOUT": env_float("HTTP_DEFAULT_TIMEOUT", 30.0),
    "HTTP_BODY_LIMIT": env_int("HTTP_BODY_LIMIT", 64 * 1024),  # bytes kept of a response body
    "OUTPUT_LIMIT": env_int("OUTPUT_LIMIT", 64 * 1024),  # bytes kept of stdout, of stderr
    "SCRIPT_MAX_BYTES": env_int("SCRIPT_MAX_BYTES", 8 * 1024 * 1024),  # decoded upload size
    "KILL_GRACE": env_float("KILL_GRACE", 2.0),  # seconds between SIGTERM and SIGKILL
    "DOCKER_HOST": env_str("DOCKER_HOST"),  # empty: the SDK's default (DOCKER_HOST, socket)
    # Seconds between sweeps for containers of runs that no longer run (a dead worker's).
    "DOCKER_JANITOR_INTERVAL": env_float("DOCKER_JANITOR_INTERVAL", 30.0),
}

# Catalog tasks: dotted paths of CatalogTask classes, besides those that installed
# packages register under the entry point group "sched.catalog".
CATALOG_TASKS = env_list("CATALOG_TASKS", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Celery's two lines per task ("received", "succeeded in"): every run is recorded
        # in the database, and at hundreds of runs per second they cost the worker CPU.
        # Task errors are logged at ERROR whatever this says. INFO brings them back.
        "celery.app.trace": {"level": env_str("TASK_LOG_LEVEL", "WARNING")},
        "celery.worker.strategy": {"level": env_str("TASK_LOG_LEVEL", "WARNING")},
    },
}

# Jobs are not PeriodicTasks (see docs/design.md); the reaper runs in beat itself, every
# REAP_INTERVAL (jobs/beat.py), not as a periodic task on a worker queue.
CELERY_BEAT_SCHEDULE = {}
