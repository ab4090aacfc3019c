"""Settings, read from the environment with safe defaults (see README: Configuration)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_float, env_int, env_list, env_networks, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    # Django's own bar (check --deploy, security.W009): a short key can be guessed offline
    # from any signed value (session, password reset, CSRF).
    raise ImproperlyConfigured(
        "SECRET_KEY must be at least 50 characters (and not one repeated) when DEBUG is off: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# HTTPS (docs/security.md, "Production settings"): off by default so that `make run`
# works on plain HTTP; a deployment behind TLS turns them on.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
# The header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto); only set it
# when that proxy always sets or strips it, or a client could claim HTTPS.
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

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
    # django-celery-beat, its admin pages hidden unless ADMIN_SHOW_BEAT_MODELS (schedsite/apps.py)
    "schedsite.apps.BeatConfig",
    "axes",
    "jobs",
    "notifications",
    "dashboard",
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
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its answer
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
    # clone, run, it works; the database file is 0644, its directory is the worker's only.
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    # be recovered. PostgreSQL ends a session idle in a transaction after this long,
    # releasing them; the product's transactions take milliseconds. 0 turns it off.
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

# Login lockout (django-axes) on the admin's and the browsable API's login views: after
# LOGIN_FAILURE_LIMIT failed logins of one username from one client IP, that pair is
# refused (429, even with the right password) until LOGIN_COOLOFF seconds pass without a
# new attempt. By username and IP together: by username alone anyone could lock an admin
# out; by IP alone, one person behind a shared address (an office, a proxy) locks out
# everyone there. API tokens do not log in (docs/security.md). 0: no lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_ENABLED = LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = max(LOGIN_FAILURE_LIMIT, 1)
AXES_COOLOFF_TIME = timedelta(seconds=env_float("LOGIN_COOLOFF", 900.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a login that succeeds forgets the pair's earlier failures
AXES_CLIENT_IP_CALLABLE = "jobs.api.client_ip.client_ip"  # the same address as throttling
AXES_LOCKOUT_CALLABLE = "schedsite.login_lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # failed attempts are kept; no row per successful login

# The dashboard's pages take a session; its own login page (the admin's takes staff only).
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:overview"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Date-times in the admin: to the second, with the zone (jobs/display.py, schedsite/formats).
FORMAT_MODULE_PATH = ["schedsite.formats"]

# django-celery-beat's models (periodic tasks, schedules) in the admin: internal, not jobs.
ADMIN_SHOW_BEAT_MODELS = env_bool("ADMIN_SHOW_BEAT_MODELS", False)

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
        "jobs.api.authentication.TokenAuthentication",  # also `Bearer <token>`
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
    # Creates of jobs have their own throttle (JobViewSet.get_throttles).
    "DEFAULT_THROTTLE_CLASSES": [
        "jobs.api.throttles.UserThrottle",
        "jobs.api.throttles.AnonThrottle",
    ],
}

# Fair use (docs/security.md): request rates, "<count>/<s|min|hour|day>"; "off": no limit.
API_THROTTLE_RATES = {
    "user": env_rate("API_THROTTLE_USER", "1200/min"),  # each authenticated user
    "anon": env_rate("API_THROTTLE_ANON", "120/min"),  # each anonymous client IP
    "create": env_rate("API_THROTTLE_CREATE", "120/min"),  # job creates, per user
    # job creates of superusers and holders of jobs.trusted_client
    "create_trusted": env_rate("API_THROTTLE_CREATE_TRUSTED", "3000/min"),
    # test messages of notification channels, per user (each sends a request or an email)
    "channel_test": env_rate("API_THROTTLE_CHANNEL_TEST", "10/min"),
}
# Jobs a user may have scheduled, running or paused (jobs/quotas.py); superusers are
# exempt; 0: no limit.
MAX_JOBS_PER_USER = env_int("MAX_JOBS_PER_USER", 10_000)
# Notification channels, and rules on all of a user's jobs (or a namespace), per user.
MAX_CHANNELS_PER_USER = env_int("MAX_CHANNELS_PER_USER", 100)
MAX_RULES_PER_USER = env_int("MAX_RULES_PER_USER", 1000)
# Reverse proxies in front of gunicorn that append the client's address to
# X-Forwarded-For; 0: the client is the peer address (jobs/api/client_ip.py).
PROXY_COUNT = env_int("PROXY_COUNT", 0)
# Input bounds of the API (docs/security.md, Input limits): the largest page `?limit=`
# may ask for (more is a 400), and the deepest nesting of a JSON body (arrays, objects).
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 64)

# The OpenAPI document (/api/v1/schema): its operations are described in jobs/api/schema.py
# and its components in jobs/api/schema_shapes.py; `make test` validates it (docs/api.md).
SPECTACULAR_SETTINGS = {
    "TITLE": "Scheduler API",
    "DESCRIPTION": (
        "Schedule HTTP requests, commands, scripts, containers and catalog tasks, and read "
        "their runs. Authenticate with `Authorization: Token <key>`. JSON in and out; every "
        'error is JSON: `{"detail": ...}`, or for a 400 each bad field by its path. '
        "The full guide is docs/api.md."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The contract is JSON; the form parsers serve the browsable API's forms only.
    "PARSER_WHITELIST": ["jobs.api.parsers.JSONParser"],
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # A text field that may not be blank says so (minLength: 1).
    "ENFORCE_NON_BLANK_FIELDS": True,
    # Stable names for every choice set (without them, colliding ones get a hash suffix).
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.states.JobStatus",
        "RunStatusEnum": "jobs.states.RunStatus",
        "RunTriggerEnum": "jobs.states.Trigger",
        "TaskTypeEnum": "jobs.states.TaskType",
        "ConcurrencyEnum": "jobs.states.Concurrency",
        "HealthEnum": "jobs.states.Health",
        "EventEnum": "jobs.states.Event",
        "ChannelKindEnum": "notifications.models.ChannelKind",
        "HttpMethodEnum": "executors.http.METHODS",
        "DockerPullEnum": "executors.docker.PULL_POLICIES",
        "RetryBackoffEnum": "jobs.retry.BACKOFFS",
        "HttpTaskTypeEnum": ["http"],
        "CommandTaskTypeEnum": ["command"],
        "ScriptTaskTypeEnum": ["script"],
        "DockerTaskTypeEnum": ["docker"],
        "CatalogTaskTypeEnum": ["catalog"],
        "ScheduleKindEnum": ["once", "interval", "cron"],
        "OnceScheduleKindEnum": ["once"],
        "IntervalScheduleKindEnum": ["interval"],
        "CronScheduleKindEnum": ["cron"],
        "HealthStatusEnum": ["ok", "unavailable"],
        "ServiceStateEnum": ["ok", "error"],
    },
    "TAGS": [
        {"name": "jobs", "description": "Create, read, change, pause, run and cancel jobs."},
        {"name": "products", "description": "The job calls inside one product and group."},
        {"name": "runs", "description": "Runs across jobs, and one run with its result."},
        {"name": "schedules", "description": "Check a schedule without creating a job."},
        {"name": "catalog", "description": "Registered catalog tasks and their payloads."},
        {"name": "channels", "description": "Notification channels and their deliveries."},
        {"name": "notify-rules", "description": "Which events of which jobs go where."},
        {"name": "health", "description": "Whether the database and the broker answer."},
    ],
}

# Celery: Redis broker; results live in the database (Run rows), not in Celery.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL

# Django's cache holds the API's throttle counters, which every web process and host must
# share: Redis (by default the broker's, under its own key prefix). "locmem": each process
# counts alone (one web process only). A cache that does not answer lets requests through
# (jobs/api/throttles.py), hence the short timeouts.
CACHE_URL = env_str("CACHE_URL", REDIS_URL if REDIS_URL.startswith("redis") else "locmem")
if CACHE_URL == "locmem":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "sched:cache",
            "OPTIONS": {
                "socket_connect_timeout": env_float("CACHE_TIMEOUT", 0.25),  # seconds
                "socket_timeout": env_float("CACHE_TIMEOUT", 0.25),
            },
        }
    }
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
    # Threads that run runs in a worker process (jobs/run_pool.py), when Celery does not
    # give its own concurrency (the worker sets it from --concurrency).
    "WORKER_RUN_THREADS": env_int("WORKER_CONCURRENCY", 16),
    "MESSAGE_EXPIRES": env_float("MESSAGE_EXPIRES", 300.0),
    "REPUBLISH_AFTER": env_float("REPUBLISH_AFTER", 30.0),
    # How often beat runs the reaper (lost messages, dead workers); any fraction of a second.
    "REAP_INTERVAL": env_float("REAP_INTERVAL", 5.0),
    # How often beat recounts the dashboard's rollup of recent runs (dashboard/rollup.py),
    # in a thread of its own; 0: never (the dashboard's charts stay empty).
    "ROLLUP_INTERVAL": env_float("ROLLUP_INTERVAL", 30.0),
    "HEARTBEAT_INTERVAL": env_float("HEARTBEAT_INTERVAL", 5.0),
    "LOST_AFTER": env_float("LOST_AFTER", 30.0),
    "DEFAULT_MISFIRE_GRACE": env_float("DEFAULT_MISFIRE_GRACE", 3600.0),
    "HTTP_DEFAULT_TIMEOUT": env_float("HTTP_DEFAULT_TIMEOUT", 30.0),
    "HTTP_BODY_LIMIT": env_int("HTTP_BODY_LIMIT", 64 * 1024),  # bytes kept of a response body
    # Egress of HTTP tasks (executors/egress.py, docs/security.md): the networks a job
    # owner without `jobs.unrestricted_egress` may (ALLOW) or may not (DENY) connect to, on
    # top of the built-in denials (loopback, link-local, metadata, ...); the most specific
    # network decides. DENY_PRIVATE also denies the private ranges.
    "EGRESS_ALLOW": env_networks("EGRESS_ALLOW"),
    "EGRESS_DENY": env_networks("EGRESS_DENY"),
    "EGRESS_DENY_PRIVATE": env_bool("EGRESS_DENY_PRIVATE", False),
    # Seconds a worker process trusts its answer to "may this owner reach anything?".
    "EGRESS_PERMISSION_CACHE": env_float("EGRESS_PERMISSION_CACHE", 30.0),
    # A task may set its own `Host` header (name-based virtual hosts behind one address).
    "HTTP_ALLOW_HOST_HEADER": env_bool("HTTP_ALLOW_HOST_HEADER", False),
    "OUTPUT_LIMIT": env_int("OUTPUT_LIMIT", 64 * 1024),  # bytes kept of stdout, of stderr
    "SCRIPT_MAX_BYTES": env_int("SCRIPT_MAX_BYTES", 8 * 1024 * 1024),  # decoded upload size
    "KILL_GRACE": env_float("KILL_GRACE", 2.0),  # seconds between SIGTERM and SIGKILL
    # The user command and script runs get where the worker is root (a task's run_as
    # wins); "worker" or empty: the worker's own user (see docs/security.md).
    "RUN_CODE_AS": env_str("RUN_CODE_AS", "nobody"),
    "DOCKER_HOST": env_str("DOCKER_HOST"),  # empty: the SDK's default (DOCKER_HOST, socket)
    # Seconds between sweeps for containers of runs that no longer run (a dead worker's).
    "DOCKER_JANITOR_INTERVAL": env_float("DOCKER_JANITOR_INTERVAL", 30.0),
    # Notifications (notifications/delivery.py): seconds a receiver has to answer; a failed
    # attempt is tried again after NOTIFY_BACKOFF, doubling up to NOTIFY_BACKOFF_MAX, until
    # NOTIFY_RETRY_FOR after the notification was made.
    "NOTIFY_TIMEOUT": env_float("NOTIFY_TIMEOUT", 10.0),
    "NOTIFY_BACKOFF": env_float("NOTIFY_BACKOFF", 10.0),
    "NOTIFY_BACKOFF_MAX": env_float("NOTIFY_BACKOFF_MAX", 600.0),
    "NOTIFY_RETRY_FOR": env_float("NOTIFY_RETRY_FOR", 86_400.0),
    # How long a worker holds a notification it sends (a dead worker's comes back after it).
    "NOTIFY_LEASE": env_float("NOTIFY_LEASE", 60.0),
    # A pending notification due and not published for this long is published again.
    "NOTIFY_REPUBLISH_AFTER": env_float("NOTIFY_REPUBLISH_AFTER", 30.0),
    # Delivery threads per worker process, and how many of them one owner may hold at once.
    "NOTIFY_THREADS": env_int("NOTIFY_THREADS", 4),
    "NOTIFY_THREADS_PER_OWNER": env_int("NOTIFY_THREADS_PER_OWNER", 2),
    # A channel's test message is sent from the web process: at most this many at once per
    # web process (more: 429), each with this many seconds for the receiver.
    "CHANNEL_TESTS_AT_ONCE": env_int("CHANNEL_TESTS_AT_ONCE", 1),
    "NOTIFY_TEST_TIMEOUT": env_float("NOTIFY_TEST_TIMEOUT", 5.0),
}

if SCHED["NOTIFY_LEASE"] <= SCHED["NOTIFY_TIMEOUT"]:
    # A lease that runs out while its worker still waits for the receiver lets a second
    # worker send the same notification at the same time.
    raise ImproperlyConfigured("NOTIFY_LEASE must be longer than NOTIFY_TIMEOUT (twice is safe)")

# Prometheus metrics (docs/operations.md, "Metrics"). METRICS_ENABLED=0: nothing is
# recorded and /metrics answers 404 (to measure what they cost). METRICS_TOKEN: /metrics
# (and the worker's and beat's own METRICS_PORT) wants `Authorization: Bearer <token>`;
# unset, only loopback clients may read them (docs/security.md, "Metrics").
# METRICS_CACHE: seconds the database's figures (runs pending, jobs by status...) are kept
# between scrapes, shared by the web processes through Django's cache. METRICS_PORT: a
# worker or beat serves its host's counters on this port (0: no; for hosts without web).
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_CACHE = env_float("METRICS_CACHE", 5.0)
METRICS_PORT = env_int("METRICS_PORT", 0)
METRICS_ADDR = env_str("METRICS_ADDR", "0.0.0.0")
# PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself, before any metric is made):
# the directory where the processes of a host write their metrics, for one of them to serve
# the sum. prometheus_client takes it as set even when empty, and would then write its files
# into the working directory: empty means unset.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]

# The address people reach this service at: links in notifications are made with it.
PUBLIC_URL = env_str("PUBLIC_URL", "http://localhost:8000")

# Email notifications go through this SMTP server (Django's email backend).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "sched@localhost")

# What an ordinary user may ask for (jobs/limits.py, docs/security.md); superusers are not
# held to these. Seconds unless named otherwise; 0 for MIN_INTERVAL: no minimum.
_DAY = 86_400.0
SCHED_LIMITS = {
    "MIN_INTERVAL": env_float("MIN_INTERVAL", 10.0),  # intervals and cron's shortest gap
    "MAX_INTERVAL": env_float("MAX_INTERVAL", 3660 * _DAY),
    "MAX_SCHEDULE_AHEAD": env_float("MAX_SCHEDULE_AHEAD", 3660 * _DAY),  # dates, delays
    "MAX_TIMEOUT": env_float("MAX_TIMEOUT", _DAY),  # the job's and the task's
    "MAX_RETRY_DELAY": env_float("MAX_RETRY_DELAY", 7 * _DAY),  # retry delay, max_delay
    "MAX_MISFIRE_GRACE": env_float("MAX_MISFIRE_GRACE", 7 * _DAY),
    "MAX_CRON_LENGTH": env_int("MAX_CRON_LENGTH", 120),  # characters
    "MAX_TASK_BYTES": env_int("MAX_TASK_BYTES", 64 * 1024),  # the task as JSON, no script
    "MAX_PAYLOAD_BYTES": env_int("MAX_PAYLOAD_BYTES", 64 * 1024),  # the payload as JSON
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
