"""Production settings: secrets and hosts have no defaults, and everything runs behind HTTPS.

`manage.py check --deploy --fail-level WARNING` passes with these settings (tested).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import OUTBOUND_ALLOW_LOOPBACK, STORAGES, email_verification, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Production never runs on SQLite, nor on the in-process broker and channel layer; base.py has
# already configured both from these variables, which must therefore be set.
env("DATABASE_URL")
env("REDIS_URL")
if STORAGES["default"]["BACKEND"] != "avatarsite.core.storage.R2Storage":
    raise ImproperlyConfigured(
        "Production stores files in R2: set R2_ENDPOINT_URL, R2_BUCKET, R2_PUBLIC_BUCKET, R2_PUBLIC_URL and the keys."
    )
if OUTBOUND_ALLOW_LOOPBACK:
    raise ImproperlyConfigured("OUTBOUND_ALLOW_LOOPBACK is for local fakes only; production fetches only public https URLs.")
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
SERVE_MEDIA_LOCALLY = False

# HTTPS everywhere. The TLS proxy in front (Cloudflare, a load balancer) must strip any client
# copy of X-Forwarded-Proto before setting its own.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

EMAIL_CONFIG = env.email_url("EMAIL_URL")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL")
# Real mail is sent here: an account is used only once its address is confirmed.
ACCOUNT_EMAIL_VERIFICATION = email_verification("mandatory")
# Links in account mail (confirmation, password reset) are https.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
LOGGING["root"]["level"] = env("DJANGO_LOG_LEVEL", default="INFO")  # noqa: F405
