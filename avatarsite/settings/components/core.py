"""Django core: debug, hosts, apps, middleware, templates, internationalisation, outbound fetches."""

from .env import BASE_DIR, env

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
    "catalogue",
    "billing",
    "ops",
]

MIDDLEWARE = [
    # First, so that its latency holds every other middleware's time (by view; see core/metrics.py).
    "avatarsite.core.metrics.RequestLatencyMiddleware",
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

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Outbound fetches ------------------------------------------------------------------------
# Outbound fetches of URLs a third party chose (image files, provider outputs, webhooks) go only to
# public addresses over https. Local fakes need loopback and plain http: tests and development only.
OUTBOUND_ALLOW_LOOPBACK = env.bool("OUTBOUND_ALLOW_LOOPBACK", default=False)
