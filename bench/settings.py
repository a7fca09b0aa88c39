"""Settings for the gallery benchmark: the base settings as deployed (DEBUG off, PostgreSQL, Redis,
R2-style public URLs), plus a Server-Timing header and a bare view to compare against."""

import warnings

from avatarsite.settings.base import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.urls"
MIDDLEWARE = ["bench.timing.ServerTimingMiddleware", *MIDDLEWARE]  # noqa: F405
# No collectstatic in a benchmark: plain static URLs instead of the manifest.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# WhiteNoise warns that STATIC_ROOT does not exist (nothing was collected); the finders serve.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
# The benchmarks point the providers at their fakes through FAL_QUEUE_URL and friends: the settings
# catalogue, not the catalogue's rows (which the first migration filled with the real services).
GENERATION_PROVIDER_CATALOGUE = env("GENERATION_PROVIDER_CATALOGUE", default="")  # noqa: F405
