"""Storage: local files, or two R2 (S3) buckets (private and public); static files."""

from pathlib import Path
from urllib.parse import urlsplit

from botocore.config import Config as BotocoreConfig

from .core import DEBUG
from .env import BASE_DIR, env

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
