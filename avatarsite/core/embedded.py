"""The embedded stack: an ASGI server and a Celery worker in one process.

With no Redis the broker (`memory://`) and the channel layer live in this process, so the worker
must too: it runs in a thread beside the web server. With Redis configured the same runner still
works (handy for a quick look), but production runs workers as their own processes.
"""

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from celery.beat import EmbeddedService
from celery.worker import WorkController
from django.conf import settings

from avatarsite.celery import QUEUES
from avatarsite.celery import app as celery_app

logger = logging.getLogger(__name__)


@dataclass
class EmbeddedWorker:
    """A Celery worker running in a daemon thread of this process."""

    concurrency: int = 2
    queues: tuple[str, ...] = QUEUES
    _controller: WorkController | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _beat: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        # WorkController (unlike `celery worker`) installs no signal handlers, so it can run
        # outside the main thread; the main thread keeps Ctrl-C for the web server.
        self._controller = celery_app.WorkController(
            pool_cls="threads",
            concurrency=self.concurrency,
            queues=list(self.queues),
            hostname=f"embedded@{threading.get_native_id()}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=logging.INFO,
        )
        self._thread = threading.Thread(target=self._controller.start, name="celery-embedded", daemon=True)
        self._thread.start()
        # Beat in a thread too (the worker's own -B would fork a process, which cannot reach an
        # in-process broker): it schedules the job reconciler and the gallery refresh.
        Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
        self._beat = EmbeddedService(celery_app, thread=True, schedule_filename=str(Path(settings.MEDIA_ROOT) / "celerybeat-schedule"))
        self._beat.start()
        logger.info("embedded Celery worker consuming %s", ", ".join(self.queues))

    def stop(self) -> None:
        if self._beat is not None:
            self._beat.stop()
        if self._controller is not None:
            self._controller.stop(in_sighandler=False)
        if self._thread is not None:
            self._thread.join(timeout=10)


def build_server(host: str, port: int, log_level: str = "info") -> uvicorn.Server:
    config = uvicorn.Config(
        "avatarsite.asgi:application",
        host=host,
        port=port,
        lifespan="off",
        log_level=log_level,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


def serve(*, host: str, port: int, with_worker: bool = True, concurrency: int = 2) -> None:
    """Run the web server in this thread until Ctrl-C, with the worker beside it."""
    worker = EmbeddedWorker(concurrency=concurrency) if with_worker else None
    if worker is not None:
        worker.start()
    try:
        build_server(host, port).run()
    except KeyboardInterrupt:
        pass  # uvicorn has shut down gracefully and re-raises the Ctrl-C it caught
    finally:
        if worker is not None:
            worker.stop()
