"""django-storages' S3 storage tuned for R2: one connection per process, uploads without a wait."""

import os

from botocore.handlers import add_expect_header
from storages.backends.s3 import S3Storage

from . import upstream


class R2Storage(S3Storage):
    """django-storages' S3Storage with one boto3 connection per process instead of one per thread.

    Under ASGI, Django runs each request in a thread of its own, so the per-thread connection was
    built anew for every request that signed a private URL (a job page, the history, the API): a
    new boto3 session loads the S3 service model again, about 100 ms. boto3 clients are
    thread-safe, and what a resource keeps per object lives in the objects made from it per call
    (`bucket.Object(name)`); django-storages already shares `self.bucket` between threads.
    A forked child (a Celery prefork worker) makes its own: the parent's sockets are not its own.

    Its uploads go without `Expect: 100-continue`. botocore sends that header with every PutObject
    and holds the body back until the server answers "100 Continue": a round trip to R2 before
    each upload starts, for a body of a few hundred kilobytes that the server would take anyway
    (and, against some servers, a second's wait or a poisoned connection: boto/botocore#3755)."""

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        self._process_connection: tuple[int, object] | None = None

    @property
    def connected(self) -> bool:
        """Has this process made its connection yet (a server makes it at start, not at a request)?"""
        made = self._process_connection
        return made is not None and made[0] == os.getpid()

    @property
    def connection(self):
        made = self._process_connection
        if made is None or made[0] != os.getpid():
            # Made afresh (after a fork the thread's own would be the parent's). Two threads may
            # both make one at first use; one of them is kept, both work.
            upstream.s3_thread_connections_forget(self)
            resource = super().connection
            resource.meta.client.meta.events.unregister("before-call.s3", add_expect_header)
            made = self._process_connection = (os.getpid(), resource)
        return made[1]

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_process_connection", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._process_connection = None
