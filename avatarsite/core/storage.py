"""Content-addressed files: the key is derived from the bytes, so a file is written once, never
changes, and a re-run that stores the same bytes writes to the same key (no orphans).

Both storages overwrite instead of renaming on a clash (settings: `file_overwrite` on R2,
`allow_overwrite` on local files): under a content-addressed key, the same key means the same bytes.
"""

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from avatarsite.runtime import upstream
from avatarsite.runtime.per_process import PerProcess

EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "png": "png"}


def attachment_url(*, storage: str, key: str, filename: str, method: str = "GET") -> str | None:
    """A URL that hands the stored file over as a download named `filename`, where the storage
    can sign one (R2: a presigned GET, or HEAD, that sets Content-Disposition); None for local
    files, which the caller sends itself. A link's `download` attribute would not do: browsers
    ignore it for a file on another origin, as R2's is, and open the image instead.

    A storage served from a CDN domain (the public gallery) has plain, unsigned URLs, which cannot
    carry a Content-Disposition; its download URL is signed here on the bucket's own endpoint
    instead, valid as long as a private file's URL. The CDN URLs stay as they are: unsigned, so the CDN caches them."""
    target = storages[storage]
    if not isinstance(target, S3Storage):
        return None
    disposition = content_disposition_header(True, filename)
    if not target.custom_domain and method == "GET":
        return target.url(key, parameters={"ResponseContentDisposition": disposition})
    return target.connection.meta.client.generate_presigned_url(
        "head_object" if method == "HEAD" else "get_object",
        Params={"Bucket": target.bucket_name, "Key": upstream.s3_object_key(target, key), "ResponseContentDisposition": disposition},
        ExpiresIn=settings.PRIVATE_URL_EXPIRY_SECONDS,
    )


def content_key(*, prefix: str, data: bytes, fmt: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{prefix}/{digest[:2]}/{digest}.{EXTENSIONS.get(fmt, fmt)}"


def store_content(*, storage: str, prefix: str, data: bytes, fmt: str, skip_existing: bool = False) -> str:
    """Write `data` under its content key in the named storage and return the key. With
    `skip_existing` a cheap existence check saves re-uploading bytes stored before."""
    key = content_key(prefix=prefix, data=data, fmt=fmt)
    target = storages[storage]
    if not (skip_existing and target.exists(key)):
        object_write(target, key, data)
    return key


@dataclass(frozen=True)
class StartedWrite:
    """A file being stored on the process's upload thread (`store_content_started`)."""

    key: str
    size: int  # bytes
    written: Future  # None once stored; result() raises what writing raised


def store_content_started(*, storage: str, prefix: str, data: bytes, fmt: str) -> StartedWrite:
    """As `store_content`, written on one of the process's upload threads. The caller goes on with its own
    work (database writes, which wait on the network as the upload does) and waits for `written`
    before it commits anything that refers to the key. The bytes are made by the caller: Pillow
    holds the GIL while it encodes, so encoding on this thread would stall the caller, not overlap it."""
    key = content_key(prefix=prefix, data=data, fmt=fmt)
    return StartedWrite(key, len(data), _uploader.get().submit(object_write, storages[storage], key, data))


# Upload threads per process, kept: they and the connections of the process's S3 client stay warm.
# Several: a thread-pool worker finishes dozens of jobs at once, each holding a database connection
# in its transaction until its file is stored; queued behind one upload thread, 50 results of a burst
# kept the pool's connections busy past its 3 s wait (bench/capacity.py: runs interrupted, a 15 s burst
# instead of 9). Made as needed, so a lone job still uses one; at most botocore's 10 connections.
UPLOAD_THREADS = 8
_uploader = PerProcess(lambda: ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="store-content"))


def object_write(target: Storage, key: str, data: bytes) -> None:
    """Store `data` under `key`: the one write of every stored file. On S3 it is one PutObject with
    the headers `target.save()` would send (type, Cache-Control and the rest of the storage's object
    parameters). save() goes through boto3's managed transfer, which builds a transfer manager and a
    thread pool for each file: about 2 ms more for the few hundred kilobytes of an image, on the path
    of every generated result."""
    if not isinstance(target, S3Storage) or target.gzip:
        target.save(key, ContentFile(data))
        return
    name = upstream.s3_object_key(target, key)
    target.connection.meta.client.put_object(Bucket=target.bucket_name, Key=name, Body=data, **upstream.s3_write_parameters(target, name))
