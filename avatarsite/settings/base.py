"""Settings shared by every environment; every value comes from the environment.

With no environment variables at all the site runs on the embedded default: SQLite, local files,
an in-process Celery broker and an in-process channel layer. Each external part switches on when
its variable is set (`DATABASE_URL`, `REDIS_URL`, `R2_*`).
"""

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from botocore.config import Config as BotocoreConfig
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# --- Django core -----------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The fallback key only exists so a newcomer can start the site with no configuration;
# production.py requires a real one.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-embedded-default-do-not-deploy")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_NAME = "avatarsite"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the docs page's scripts and styles, served by us: no CDN
    "corsheaders",
    "storages",
    # Sign-up, sign-in, e-mail verification, password reset, login rate limits (allauth.account),
    # optional TOTP two-factor (allauth.mfa) and social sign-in (allauth.socialaccount; its provider
    # apps are added below, only for the providers that are configured).
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "avatarsite.core",
    "avatarsite.accounts",
    "gallery",
    "generation",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Database, Redis or broker down: a 503 saying which, with Retry-After, instead of a 500.
    "avatarsite.core.outage.OutageMiddleware",
]

ROOT_URLCONF = "avatarsite.urls"
ASGI_APPLICATION = "avatarsite.asgi.application"
WSGI_APPLICATION = None

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
                "generation.context_processors.generation_offer",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------------
# Unset: a SQLite file in the project. Set (postgres://...): PostgreSQL through psycopg 3.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request may run in another thread: persistent connections would leak,
    # so connections are pooled by psycopg instead (Django 5.1+).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Bounded waits: with the database down a request gets its 503 (avatarsite/core/outage.py) within
    # a few seconds instead of waiting psycopg's default 30 s for a pooled connection.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # After an outage, psycopg's pool retries a failed connection with a doubling backoff for as long
    # as reconnect_timeout (5 minutes by default): 35 s down cost up to half a minute more before a
    # worker could reach the database again (the fault suite's postgres-down-35s). Giving up after a
    # few seconds lets the next request start a fresh attempt, right away.
    _pool = {
        "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=3.0),
        "reconnect_timeout": env.float("DATABASE_POOL_RECONNECT_SECONDS", default=5.0),
    }
    _options["pool"] = _pool if env.bool("DATABASE_POOL", default=True) else False
    _options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=3))  # libpq: whole seconds, 2 at least
    # Pooled connections outlive requests and Celery tasks (avatarsite/celery.py): the pool checks
    # each one as it is handed out (an empty query), so one broken by a database restart is replaced.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves pages and runs the worker's threads on one file. SQLite's default
    # (deferred) transaction reads first and asks for the write lock later, when another writer may
    # hold it: that fails at once with "database is locked", whatever the busy timeout. Immediate
    # transactions take the write lock at BEGIN and wait for it up to the timeout; WAL lets readers
    # go on while one connection writes (synchronous=NORMAL, WAL's usual pairing: a power cut may
    # lose the last transactions, never corrupt the file).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.float("DATABASE_SQLITE_TIMEOUT_SECONDS", default=20.0),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Sessions are read from the cache (Redis; in-process on the embedded default) and kept in the
# database too, so none is lost when the cache is flushed: a signed-in request no longer waits
# for a database read before its first line of view code (every page, the generate form, the
# websocket's sign-in).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# ModelBackend first: sessions made before allauth name it as their backend and stay valid; allauth's
# backend adds signing in by e-mail address.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "allauth.account.auth_backends.AuthenticationBackend"]
ACCOUNT_ADAPTER = "avatarsite.accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"login": "avatarsite.accounts.forms.LoginForm", "signup": "avatarsite.accounts.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_REDIRECT_URL = "accounts:welcome"
# A logged-in user who confirms an address lands where the address shows as verified.
ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL = "/accounts/#security"


# "optional" on the embedded default: the confirmation mail goes to the console, and a newcomer trying
# the site is not stopped until they find it there; only two-factor needs a verified address.
# production.py makes it "mandatory".
def email_verification(default: str) -> str:
    """ACCOUNT_EMAIL_VERIFICATION from env: mandatory (no sign-in before confirming), optional, or none."""
    mode = env.str("ACCOUNT_EMAIL_VERIFICATION", default=default)
    if mode not in ("mandatory", "optional", "none"):
        raise ImproperlyConfigured(f"ACCOUNT_EMAIL_VERIFICATION must be mandatory, optional or none, not {mode!r}")
    return mode


ACCOUNT_EMAIL_VERIFICATION = email_verification("optional")
# Confirming in the browser that signed up continues the sign-up (to the welcome page).
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Sessions last SESSION_COOKIE_AGE (two weeks), as before: no "remember me" box.
ACCOUNT_SESSION_REMEMBER = True
# A reset asked for an address with no account sends nothing (the page says the same either way).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# Sign-in is rate limited per client address and per account: failed sign-ins are counted in the cache (Redis
# when REDIS_URL is set, so every process shares the count, and allauth locks each count with an atomic SET
# NX), per client address (as the API throttles see it, DJANGO_NUM_PROXIES) and per username or e-mail: once N
# have failed in the minute from one address, or in five minutes for one account, the next is refused without
# checking the password. A successful sign-in does not count.
LOGIN_FAILURES_PER_MINUTE = env.int("LOGIN_FAILURES_PER_MINUTE", default=5)
ACCOUNT_RATE_LIMITS = {"login_failed": f"{LOGIN_FAILURES_PER_MINUTE}/m/ip,{LOGIN_FAILURES_PER_MINUTE}/5m/key"}
# Two-factor: authenticator apps (TOTP) and recovery codes. Only the current 30-second code is
# accepted (allauth's default): it is remembered as used for 30 s, so it works exactly once.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SITE_NAME
# Social sign-in: none unless configured. A provider is offered once both its client id and secret
# are set (an OAuth app registered with the provider, callback
# <site>/accounts/<provider>/login/callback/). Another allauth provider: one more entry here.
_SOCIAL_CLIENTS = {
    "github": (env("GITHUB_OAUTH_CLIENT_ID", default=""), env("GITHUB_OAUTH_CLIENT_SECRET", default="")),
    "google": (env("GOOGLE_OAUTH_CLIENT_ID", default=""), env("GOOGLE_OAUTH_CLIENT_SECRET", default="")),
}
SOCIALACCOUNT_PROVIDERS = {}
for _provider, (_client_id, _secret) in _SOCIAL_CLIENTS.items():
    if bool(_client_id) != bool(_secret):
        raise ImproperlyConfigured(f"Social sign-in with {_provider} needs both its client id and its secret.")
    if _client_id:
        SOCIALACCOUNT_PROVIDERS[_provider] = {"APPS": [{"client_id": _client_id, "secret": _secret, "key": ""}]}
        INSTALLED_APPS.append(f"allauth.socialaccount.providers.{_provider}")
# An address a provider reports is not taken as proof of owning an account here (no sign-in to an
# existing account by matching e-mail); the user signs in and connects the provider instead.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Mail: printed to the console unless an SMTP URL is given ---------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="avatarsite <noreply@localhost>")

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Redis: broker, results, cache, channel layer --------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Bounded waits on Redis for the cache, sessions, rate limits and Celery's publishing: with Redis down
# or unreachable a request gets its 503 (avatarsite/core/outage.py) within a few seconds.
REDIS_CONNECT_TIMEOUT_SECONDS = env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=2.0)
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=3.0)
# What those 503s tell clients to wait before retrying (Retry-After).
OUTAGE_RETRY_AFTER_SECONDS = env.int("OUTAGE_RETRY_AFTER_SECONDS", default=10)


def _redis_db(url: str, db: int) -> str:
    """The same Redis server, another database: broker, results, cache and channels stay apart."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "avatarsite.runtime.redis_cache.ReusingRedisCache",
            "LOCATION": _redis_db(REDIS_URL, 2),
            "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": _redis_db(REDIS_URL, 3),
                        # redis-py raises instead of waiting when its pool is exhausted: size it deliberately.
                        "max_connections": env.int("CHANNELS_REDIS_MAX_CONNECTIONS", default=1000),
                        # redis-py 8 times reads out after 5 s, exactly the layer's 5 s BZPOPMIN wait:
                        # an idle consumer would die with a TimeoutError. Read timeouts must exceed it.
                        "socket_timeout": 30,
                        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
                    }
                ],
                "capacity": 100,
                "expiry": 60,
                "group_expiry": 3600,
            },
        }
    }
    CELERY_BROKER_URL = _redis_db(REDIS_URL, 0)
    CELERY_RESULT_BACKEND = _redis_db(REDIS_URL, 1)
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_CONNECT_TIMEOUT_SECONDS
    CELERY_REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT_SECONDS
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Thread-safe in-process layer: the embedded worker runs in the web server's process.
    CHANNEL_LAYERS = {"default": {"BACKEND": "avatarsite.core.channel_layers.EmbeddedChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"

# --- Celery ------------------------------------------------------------------------------------
CELERY_TASK_DEFAULT_QUEUE = "standard"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection around each task and, in a prefork child
# with psycopg pooling, the whole pool: each task then reconnected (about 15 ms before its first
# query). With this set it leaves them open (closing all only every that many tasks); instead
# avatarsite/celery.py hands the connection back to the process's pool around each task, as Django
# does around a request, and the pool checks connections as it hands them out (CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=10 * 60)
# 30 s to clean up before the hard kill, or a quarter of a short limit: "limit - 30" would be zero
# (no soft limit) or negative (raised as soon as any task starts) for a limit of 30 s or less.
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - min(30, CELERY_TASK_TIME_LIMIT // 4)
# A scheduled gallery import has its own limit (a run cut off resumes where it stopped next time).
GALLERY_IMPORT_TIME_LIMIT_SECONDS = env.int("GALLERY_IMPORT_TIME_LIMIT_SECONDS", default=840)
# Must exceed the longest task, or Redis hands a running task to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=max(CELERY_TASK_TIME_LIMIT, GALLERY_IMPORT_TIME_LIMIT_SECONDS) + 5 * 60
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Ten priority steps (Redis: 0 runs first). A worker consuming several queues takes the highest
    # priority message among them, the order of its -Q list breaking ties (not round robin).
    "priority_steps": list(range(10)),
    "sep": ":",
    "queue_order_strategy": "priority",
    # A publish (a job enqueued from a request) must not wait forever on a broker that is gone: kombu's
    # default is no timeout. Longer than the 1 s BRPOP a worker waits on, which Redis answers in time.
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
}
if not REDIS_URL:
    # The in-process broker sleeps this long whenever its worker can take no message (none waiting,
    # or every thread busy): kombu's 1 s made each job of a queue wait up to a second for a thread
    # that was already free. A twentieth of a second costs an idle site nothing worth counting.
    CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] = 0.05
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT_SECONDS
# Two more tries, half a second apart, then the request's 503: a broker restart of a moment is ridden out.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# Without it, a task sent with no priority lands in the base list, which Redis serves first.
CELERY_TASK_DEFAULT_PRIORITY = 5
# A run goes on through a lost broker connection (a Redis restart): its message, which can no longer
# be acknowledged, is delivered again later and finds the job finished, or held by the run's lease
# (generation/lease.py), so nothing runs twice. Canceling it instead would leave the job to wait for
# its lease to expire and be taken over.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# One result backend per process, not per thread: under ASGI each request runs in a thread of its
# own, and every task sent from it built a new backend (a Redis client and pool) for its AsyncResult.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 30
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
GALLERY_IMPORT_SCHEDULE_HOURS = env.int("GALLERY_IMPORT_SCHEDULE_HOURS", default=6)
GENERATION_RECONCILE_EVERY_SECONDS = env.int("GENERATION_RECONCILE_EVERY_SECONDS", default=60)
CELERY_BEAT_SCHEDULE = {
    "gallery-refresh-imports": {
        "task": "gallery.tasks.refresh_scheduled_imports",
        "schedule": GALLERY_IMPORT_SCHEDULE_HOURS * 3600,
        "options": {"queue": "batch"},
    },
    # Stripe events whose processing was lost, and subscriptions at their period's end, are
    # checked against Stripe: a missed webhook never leaves a paying user without their plan.
    "billing-reconcile-stripe": {
        "task": "billing.tasks.stripe_reconcile",
        "schedule": 5 * 60,
        "options": {"queue": "standard", "expires": 5 * 60},
    },
    # Completion webhooks due a (re)try: retried with backoff, without countdown tasks in the broker.
    "generation-webhooks-due": {
        "task": "generation.tasks.webhooks_due",
        "schedule": 30,
        "options": {"queue": "standard", "expires": 30},
    },
    # API idempotency keys are remembered for a day.
    "generation-prune-idempotency-keys": {
        "task": "generation.tasks.idempotency_keys_prune",
        "schedule": 3600,
        "options": {"queue": "batch", "expires": 3600},
    },
    # Settles jobs past their deadline (lost worker, lost provider answer): nothing stays "running".
    "generation-reconcile-jobs": {
        "task": "generation.tasks.jobs_reconcile",
        "schedule": GENERATION_RECONCILE_EVERY_SECONDS,
        "options": {"queue": "standard", "priority": 0, "expires": GENERATION_RECONCILE_EVERY_SECONDS},
    },
}

# --- Storage: local files, or two R2 (S3) buckets ---------------------------------------------
# `default` holds private files (user generations; presigned URLs); `public` holds the gallery,
# served from the CDN domain with an immutable Cache-Control.
R2_ENDPOINT_URL = env("R2_ENDPOINT_URL", default="")
MEDIA_IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
PRIVATE_URL_EXPIRY_SECONDS = env.int("R2_PRESIGNED_EXPIRY", default=600)
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
_staticfiles = {
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    if not DEBUG
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
}

if R2_ENDPOINT_URL:
    _r2_client_config = BotocoreConfig(
        signature_version="s3v4",
        # boto3 >= 1.36 sends CRC32 checksum headers by default, which R2 rejects.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )
    _r2_common = {
        "endpoint_url": R2_ENDPOINT_URL,
        "region_name": env("R2_REGION", default="auto"),
        "access_key": env("R2_ACCESS_KEY_ID"),
        "secret_key": env("R2_SECRET_ACCESS_KEY"),
        "client_config": _r2_client_config,
        "default_acl": None,  # R2 has no object ACLs; public access comes from the public bucket.
        # Every key we write is content-addressed (avatarsite/core/storage.py): the same key is the
        # same bytes, so overwriting is right, and it spares the existence check of each upload.
        "file_overwrite": True,
    }
    _public_url = urlsplit(env("R2_PUBLIC_URL"))
    STORAGES = {
        "default": {
            "BACKEND": "avatarsite.runtime.s3.R2Storage",
            "OPTIONS": {
                **_r2_common,
                "bucket_name": env("R2_BUCKET"),
                "querystring_auth": True,
                "querystring_expire": PRIVATE_URL_EXPIRY_SECONDS,
                "object_parameters": {"CacheControl": "private, max-age=31536000, immutable"},
            },
        },
        "public": {
            "BACKEND": "avatarsite.runtime.s3.R2Storage",
            "OPTIONS": {
                **_r2_common,
                "bucket_name": env("R2_PUBLIC_BUCKET"),
                "querystring_auth": False,
                "custom_domain": f"{_public_url.netloc}{_public_url.path.rstrip('/')}",
                "url_protocol": f"{_public_url.scheme}:",
                "object_parameters": {"CacheControl": MEDIA_IMMUTABLE_CACHE_CONTROL},
            },
        },
        "staticfiles": _staticfiles,
    }
    SERVE_MEDIA_LOCALLY = False
else:
    STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT / "private", "base_url": f"{MEDIA_URL}private/", "allow_overwrite": True},
        },
        "public": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT / "public", "base_url": f"{MEDIA_URL}public/", "allow_overwrite": True},
        },
        "staticfiles": _staticfiles,
    }
    SERVE_MEDIA_LOCALLY = True

# --- Premade sources (gallery importers) -------------------------------------------------------
# Base URLs without the version segment; tests point them at local fakes.
PEXELS_API_URL = env("PEXELS_API_URL", default="https://api.pexels.com")
PEXELS_API_KEY = env("PEXELS_API_KEY", default="")
GENERATED_PHOTOS_API_URL = env("GENERATED_PHOTOS_API_URL", default="https://api.generated.photos")
GENERATED_PHOTOS_API_KEY = env("GENERATED_PHOTOS_API_KEY", default="")
# --- Generation ---------------------------------------------------------------------------------
# Outbound fetches of URLs a third party chose (image files, provider outputs, webhooks) go only to
# public addresses over https. Local fakes need loopback and plain http: tests and development only.
OUTBOUND_ALLOW_LOOPBACK = env.bool("OUTBOUND_ALLOW_LOOPBACK", default=False)
# Enterprise API completion webhooks: the absolute links they carry start with SITE_URL; each attempt
# waits at most the timeout; failed ones are retried with exponential backoff for API_WEBHOOK_RETRY_HOURS.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
API_WEBHOOK_TIMEOUT_SECONDS = env.float("API_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
API_WEBHOOK_RETRY_HOURS = env.float("API_WEBHOOK_RETRY_HOURS", default=24.0)
FAL_KEY = env("FAL_KEY", default="")
FAL_QUEUE_URL = env("FAL_QUEUE_URL", default="https://queue.fal.run")
REPLICATE_API_TOKEN = env("REPLICATE_API_TOKEN", default="")
REPLICATE_API_URL = env("REPLICATE_API_URL", default="https://api.replicate.com")
_provider_common = {
    "allow_loopback": OUTBOUND_ALLOW_LOOPBACK,
    "poll_interval": env.float("GENERATION_POLL_INTERVAL_SECONDS", default=0.5),
    "max_wait": env.float("GENERATION_PROVIDER_MAX_WAIT_SECONDS", default=240.0),
}
# Provider adapters by name (a plan's chain names them as "<provider>:<model>"); an adapter without
# its key counts as not set up. Costs are what the provider bills, for the ledger and spend alerts.
# "max_side" (and fal's "side_step") per model: the square sides it makes, so each is asked for a
# size it can deliver (base.ModelSizes); above max_side the pipeline upscales (GENERATION_MAX_UPSCALE).
GENERATION_PROVIDERS = {
    # "commercial_use" (per model, or for the whole provider) is what the API tells clients about an
    # image's use; a model not marked is reported as not cleared for commercial use.
    "local": {"BACKEND": "generation.providers.local.LocalProvider", "OPTIONS": {"commercial_use": True}},
    "fal": {
        "BACKEND": "generation.providers.fal.FalProvider",
        "OPTIONS": {
            **_provider_common,
            "api_url": FAL_QUEUE_URL,
            "api_key": FAL_KEY,
            "output_hosts": env.list("FAL_OUTPUT_HOSTS", default=[".fal.media"]),
            "models": {
                # image_size {width, height} in 16 px steps. UNCONFIRMED: fal's largest side for flux
                # (its toolkit allows 14142; the model may constrain further): 1024 = its square_hd preset.
                "fal-ai/flux/schnell": {
                    "max_side": 1024,
                    "side_step": 16,
                    "cost_per_megapixel": env.float("FAL_FLUX_SCHNELL_COST_PER_MEGAPIXEL", default=0.003),
                    "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                    "commercial_use": True,
                },
                "fal-ai/flux/dev": {
                    "max_side": 1024,
                    "side_step": 16,
                    "cost_per_megapixel": env.float("FAL_FLUX_DEV_COST_PER_MEGAPIXEL", default=0.025),
                    "licence": "FLUX.1 [dev] through fal's commercial licence: the image may be used commercially.",
                    "commercial_use": True,
                },
            },
        },
    },
    "replicate": {
        "BACKEND": "generation.providers.replicate.ReplicateProvider",
        "OPTIONS": {
            **_provider_common,
            "api_url": REPLICATE_API_URL,
            "api_key": REPLICATE_API_TOKEN,
            "prefer_wait": env.int("REPLICATE_PREFER_WAIT_SECONDS", default=10),
            "output_hosts": env.list("REPLICATE_OUTPUT_HOSTS", default=["replicate.delivery", ".replicate.delivery"]),
            "models": {
                # megapixels "0.25" / "1" at 1:1 make 512 / 1024 px squares (cog-flux): nothing larger.
                "black-forest-labs/flux-schnell": {
                    "max_side": 1024,
                    "cost_per_image": env.float("REPLICATE_FLUX_SCHNELL_COST_PER_IMAGE", default=0.003),
                    "licence": "FLUX.1 [schnell] (Apache-2.0): the image may be used commercially.",
                    "commercial_use": True,
                },
                "black-forest-labs/flux-dev": {
                    "max_side": 1024,
                    "cost_per_image": env.float("REPLICATE_FLUX_DEV_COST_PER_IMAGE", default=0.025),
                    "licence": "FLUX.1 [dev] through Replicate's commercial licence: the image may be used commercially.",
                    "commercial_use": True,
                },
            },
        },
    },
}
# Sizes above a model's max_side are made by upscaling its largest image by at most this factor (named
# on the image and the page); a plan may offer up to (largest max_side in its chain) x this.
GENERATION_MAX_UPSCALE = env.float("GENERATION_MAX_UPSCALE", default=2.0)
# What sizes a plan's chain delivers and how: a function (provider_chain=, max_size=) the generation
# app provides, named here so billing (plan checks, the pricing page) needs not import generation.
BILLING_PLAN_SIZES = "generation.sizes.chain_sizes"
# How long a job may wait in its queue, and how long a run may take, before it is given up (its
# quota returned). The reconciler settles jobs past either limit, so none stays "running" forever.
GENERATION_QUEUE_TIMEOUT_SECONDS = env.int("GENERATION_QUEUE_TIMEOUT_SECONDS", default=600)
GENERATION_RUN_TIMEOUT_SECONDS = env.int("GENERATION_RUN_TIMEOUT_SECONDS", default=300)
# The reconciler leaves a job this long past its deadline to the run that owns it (storing results).
GENERATION_RECONCILE_GRACE_SECONDS = env.int("GENERATION_RECONCILE_GRACE_SECONDS", default=30)
# A job whose runs keep dying (a poison message) fails after this many starts.
GENERATION_MAX_RUNS = env.int("GENERATION_MAX_RUNS", default=3)
# A run's lease on its job (renewed every third of it while the run lives): a second delivery of
# the job's message waits it out; a dead run's job is taken over once it has expired.
GENERATION_LEASE_SECONDS = env.float("GENERATION_LEASE_SECONDS", default=20.0)
# A queued job whose message was sent this long ago is sent another (the broker may have lost it; a
# message that could not be sent at all is sent at the reconciler's next pass).
GENERATION_REQUEUE_AFTER_SECONDS = env.int("GENERATION_REQUEUE_AFTER_SECONDS", default=300)
# Times a run is retried (with backoff, up to 15 s apart) after a database, broker or storage fault.
GENERATION_INFRA_RETRIES = env.int("GENERATION_INFRA_RETRIES", default=30)
GENERATION_PROVIDER_ATTEMPTS = env.int("GENERATION_PROVIDER_ATTEMPTS", default=3)
GENERATION_PROVIDER_BACKOFF_SECONDS = env.float("GENERATION_PROVIDER_BACKOFF_SECONDS", default=1.0)
# Worker processes per lane (as deployed) and each provider's expected time per image before
# there are measurements: the ETA shown before a request is made comes from these and the queue depth.
# The embedded default's worker is two threads of the web server's process for every lane, and its
# drawings (the local generator, the encoding) take turns on one interpreter: one job at a time.
GENERATION_QUEUE_CONCURRENCY = env.dict(
    "GENERATION_QUEUE_CONCURRENCY",
    cast={"value": int},
    default={"enterprise": 2, "premium": 4, "standard": 4} if REDIS_URL else {"enterprise": 1, "premium": 1, "standard": 1},
)
GENERATION_EXPECTED_SECONDS = {"local": 1, "fal": 4, "replicate": 6}
# Circuit breaker per provider, shared by all workers through the cache.
GENERATION_BREAKER_FAILURES = env.int("GENERATION_BREAKER_FAILURES", default=5)
GENERATION_BREAKER_WINDOW_SECONDS = env.int("GENERATION_BREAKER_WINDOW_SECONDS", default=60)
GENERATION_BREAKER_COOLDOWN_SECONDS = env.int("GENERATION_BREAKER_COOLDOWN_SECONDS", default=30)
GENERATION_BREAKER_PROBE_SECONDS = env.int("GENERATION_BREAKER_PROBE_SECONDS", default=60)

GALLERY_IMPORTERS = {
    "pexels": {
        "BACKEND": "gallery.importers.pexels.PexelsImporter",
        "OPTIONS": {
            "api_url": PEXELS_API_URL,
            "api_key": PEXELS_API_KEY,
            "image_hosts": env.list("PEXELS_IMAGE_HOSTS", default=["images.pexels.com"]),
            "allow_loopback": OUTBOUND_ALLOW_LOOPBACK,
        },
    },
    "generated_photos": {
        "BACKEND": "gallery.importers.generated_photos.GeneratedPhotosImporter",
        "OPTIONS": {
            "api_url": GENERATED_PHOTOS_API_URL,
            "api_key": GENERATED_PHOTOS_API_KEY,
            "image_hosts": env.list("GENERATED_PHOTOS_IMAGE_HOSTS", default=["images.generated.photos"]),
            "allow_loopback": OUTBOUND_ALLOW_LOOPBACK,
        },
    },
}
# Imports the beat scheduler refreshes (batch queue), as JSON, e.g.
# [{"source": "pexels", "query": "portrait", "limit": 160, "filters": {"orientation": "portrait"}}]
GALLERY_SCHEDULED_IMPORTS = env.json("GALLERY_SCHEDULED_IMPORTS", default=[])
# Hashes within this many bits (of 64) are the same picture, whatever the source.
GALLERY_DUPLICATE_MAX_DISTANCE = 3
# Stop a run while this many requests are left in the source's rate-limit window.
GALLERY_RATE_LIMIT_RESERVE = env.int("GALLERY_RATE_LIMIT_RESERVE", default=2)
# What draws the demo library (gallery/demo.py): a class made with no arguments, loaded by this path so
# that gallery never imports generation; the local generator, through its adapter.
GALLERY_DEMO_DRAWER = "generation.demo_drawer.LocalDemoDrawer"

# --- Billing (Stripe) ---------------------------------------------------------------------------
# Without a secret key the pricing page says payments are not set up here; nothing else changes.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Stripe's API; tests point it at a local fake.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
# The Price checkout sells for the premium plan (a plan's own stripe_price_id, set in the admin, wins).
STRIPE_PREMIUM_PRICE_ID = env("STRIPE_PREMIUM_PRICE_ID", default="")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# How long a past-due subscription keeps its plan while Stripe retries the card.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
# Where the pricing page sends enterprise enquiries.
BILLING_SALES_EMAIL = env("BILLING_SALES_EMAIL", default="sales@example.com")

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # API keys (Authorization: Bearer <key>); no header stays anonymous, as the public read API is.
    "DEFAULT_AUTHENTICATION_CLASSES": ["billing.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "avatarsite.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# The OpenAPI schema at /api/schema/ and its docs at /api/docs/ (docs text: avatarsite/core/api_docs.md).
SPECTACULAR_SETTINGS = {
    "TITLE": "avatarsite API",
    "DESCRIPTION": (BASE_DIR / "avatarsite" / "core" / "api_docs.md").read_text(),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Swagger UI from drf-spectacular-sidecar, so the docs need nothing from another site (the
    # validator badge would load an image from validator.swagger.io: off). "Authorize" takes a key
    # and "Try it out" sends real requests from the page. No deep links: Swagger UI puts each one
    # inside the operation's button, a link in a button that screen readers cannot reach (axe-core's
    # nested-interactive rule).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "persistAuthorization": True, "validatorUrl": None, "tryItOutEnabled": False},
    "TAGS": [
        {"name": "avatars", "description": "The premade library: public; with a key, requests count per account at the plan's rate."},
        {"name": "generations", "description": "Custom avatars on demand (key required)."},
        {"name": "usage", "description": "Your plan, quotas and this month's use (key required)."},
    ],
}
# CORS, for the API only: web pages on these origins (scheme + host, e.g. https://app.example.com)
# may call it from the browser. Never with credentials: the API authenticates by key, not cookie.
CORS_ALLOWED_ORIGINS = env.list("API_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Location", "Retry-After", "Idempotent-Replayed", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
# Invalid API keys accepted from one address per minute; then 429 until the minute ends.
API_KEY_FAILURES_PER_MINUTE = env.int("API_KEY_FAILURES_PER_MINUTE", default=20)
# Requests per minute per client IP on the public (keyless) read API.
PUBLIC_API_RATE_PER_MINUTE = env.int("PUBLIC_API_RATE_PER_MINUTE", default=120)
# Set only when a trusted proxy in front sets X-Forwarded-For (e.g. 1 behind one proxy).
NUM_PROXIES = env.int("DJANGO_NUM_PROXIES", default=0) or None
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES

# --- Security defaults that hold everywhere ---------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
