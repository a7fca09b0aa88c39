"""Content-addressed files: the key is derived from the bytes, so a file is written once, never
changes, and a re-run that stores the same bytes writes to the same key (no orphans).

Both storages overwrite instead of renaming on a clash (settings: `file_overwrite` on R2,
`allow_overwrite` on local files): under a content-addressed key, the same key means the same bytes.
"""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import storages

EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "png": "png"}


def content_key(*, prefix: str, data: bytes, fmt: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{prefix}/{digest[:2]}/{digest}.{EXTENSIONS.get(fmt, fmt)}"


def store_content(*, storage: str, prefix: str, data: bytes, fmt: str, skip_existing: bool = False) -> str:
    """Write `data` under its content key in the named storage and return the key. With
    `skip_existing` a cheap existence check saves re-uploading bytes stored before."""
    key = content_key(prefix=prefix, data=data, fmt=fmt)
    target = storages[storage]
    if not (skip_existing and target.exists(key)):
        target.save(key, ContentFile(data))
    return key
