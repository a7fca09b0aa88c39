"""Settings for the test suite: base settings, made fast and quiet.

The real services (PostgreSQL, Redis, the S3 server) are started by `tests/conftest.py`, which
exports their URLs before these settings are read.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-secret-key-that-is-long-enough-0123456789-abcdefghijklmnop")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A worker subprocess's mails, written as files where its test can read them (none by default).
if env("DJANGO_EMAIL_FILE_PATH", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env("DJANGO_EMAIL_FILE_PATH")
# Not "*": the websocket origin check is derived from ALLOWED_HOSTS and is under test.
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The fake services listen on 127.0.0.1 over plain http.
OUTBOUND_ALLOW_LOOPBACK = True
for _adapter in (*GALLERY_IMPORTERS.values(), *GENERATION_PROVIDERS.values()):  # noqa: F405
    if "allow_loopback" in _adapter["OPTIONS"]:
        _adapter["OPTIONS"]["allow_loopback"] = True
# Providers come from GENERATION_PROVIDERS, which each test shapes (fakes on loopback ports); the
# catalogue's own tests switch its rows on (tests/catalogue/), in this process and in workers.
GENERATION_PROVIDER_CATALOGUE = env("GENERATION_PROVIDER_CATALOGUE", default="")
