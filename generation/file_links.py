"""Links to the stored files of a job's results, which only their owner may fetch.

Every link goes through the owner-checked route (`generation:image_download`), except on pages of
a storage that signs its own URLs (R2: a short-lived presigned URL handed only to the owner). The
API's links are absolute and carry a short-lived signed token in the query, so a client fetches
them with a plain GET (`requests.get(url)`, an `<img>` of its own app) without sending its key.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.files.storage import storages
from django.urls import reverse
from storages.backends.s3 import S3Storage

TOKEN_PARAMETER = "token"  # noqa: S105 - the name of a query parameter, not a secret
_SALT = "generation.file-link"


def storage_signs_urls() -> bool:
    """Whether the private storage's own URLs are signed and expire (R2); local files' are not."""
    storage = storages["default"]
    return isinstance(storage, S3Storage) and bool(storage.querystring_auth)


def file_path(*, job_id: object, index: int, size: int, fmt: str) -> str:
    """The owner-checked route of one size and format of a result (relative)."""
    return reverse("generation:image_download", args=[job_id, index, size, fmt])


def _signed_value(*, job_id: object, index: int, size: int, fmt: str) -> str:
    return f"{job_id}/{index}/{size}.{fmt}"


def file_token(*, job_id: object, index: int, size: int, fmt: str) -> str:
    """A token for this one file, valid settings.PRIVATE_URL_EXPIRY_SECONDS (R2_PRESIGNED_EXPIRY):
    the signer's timestamp and signature, without the value (which the path already says)."""
    value = _signed_value(job_id=job_id, index=index, size=size, fmt=fmt)
    return signing.TimestampSigner(salt=_SALT).sign(value)[len(value) + 1 :]


def file_token_valid(*, job_id: object, index: int, size: int, fmt: str, token: str) -> bool:
    """Whether `token` was made for this very file and has not expired."""
    value = _signed_value(job_id=job_id, index=index, size=size, fmt=fmt)
    try:
        signing.TimestampSigner(salt=_SALT).unsign(f"{value}:{token}", max_age=settings.PRIVATE_URL_EXPIRY_SECONDS)
    except signing.BadSignature:  # SignatureExpired too
        return False
    return True


def file_api_url(*, base_url: str, job_id: object, index: int, size: int, fmt: str) -> str:
    """The absolute, token-bearing link the API hands out (`base_url`: the request's site, or SITE_URL)."""
    token = file_token(job_id=job_id, index=index, size=size, fmt=fmt)
    return f"{base_url.rstrip('/')}{file_path(job_id=job_id, index=index, size=size, fmt=fmt)}?{urlencode({TOKEN_PARAMETER: token})}"


def file_page_url(*, key: str, job_id: object, index: int, size: int, fmt: str) -> str:
    """The link a signed-in page shows its owner: the storage's presigned URL where it signs them,
    else the owner-checked route (local files are never served by a public /media/ URL)."""
    if storage_signs_urls():
        return storages["default"].url(key)
    return file_path(job_id=job_id, index=index, size=size, fmt=fmt)
