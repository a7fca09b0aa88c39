"""Prometheus metrics: the /metrics endpoint (staff or a bearer token), request latency by view, broker
queue depths, and the registry of scrape-time collectors the apps add their database figures to.

Two kinds of figures. Events a process sees (a request's latency, a job's duration in the worker
that ran it) are prometheus-client histograms; with `PROMETHEUS_MULTIPROC_DIR` set every process
(uvicorn, each Celery pool child) writes them to its own file there and a scrape sums the files
(prometheus-client's multiprocess mode), so one scrape of the web server sees the worker pools too.
Figures that live in the database or the broker (jobs by outcome, spend, breaker states, queue
depths) are read at scrape time by collectors (`collector_register`), so they are the same whichever
process is scraped and survive restarts.
"""

import hmac
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, Histogram, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from .api import error_body
from .infrastructure import INFRASTRUCTURE_ERRORS

logger = logging.getLogger(__name__)

# --- multiprocess mode ---------------------------------------------------------------------------

_HOST = socket.gethostname()


def process_id() -> str:
    """This process's name in the multiprocess folder: host and pid, because the compose stack's
    containers share one folder and each has its own pid 1, 7, ... (a bare pid would collide)."""
    return f"{_HOST}-{os.getpid()}"


def _multiprocess_setup() -> None:
    """Before any metric holds a value: files in the multiprocess folder, named by process_id.
    prometheus-client reads the folder from the environment itself; a value that came from .env
    (DJANGO_READ_DOT_ENV_FILE) is put there so that both agree."""
    folder = settings.PROMETHEUS_MULTIPROC_DIR
    if not folder:
        return
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", folder)
    os.makedirs(folder, exist_ok=True)
    values.ValueClass = values.MultiProcessValue(process_identifier=process_id)


_multiprocess_setup()


def process_exit() -> None:
    """A process that ends (a Celery pool child): its live gauges leave the folder, as
    prometheus-client asks; its counters and histograms stay, so the sums never go back."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        mark_process_dead(process_id(), settings.PROMETHEUS_MULTIPROC_DIR)


# --- request latency -----------------------------------------------------------------------------

HTTP_REQUEST_SECONDS = Histogram(
    "avatarsite_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by the view's URL name, method and status class.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Methods outside these are counted as "other": a client cannot grow the label set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _latency_observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    # The URL's name (namespaced; the view's dotted path when unnamed), never the path: one series
    # per view, however many ids and files are asked for.
    view = match.view_name if match is not None else "unresolved"
    method = request.method if request.method in _METHODS else "other"
    status = f"{response.status_code // 100}xx"
    HTTP_REQUEST_SECONDS.labels(view=view, method=method, status=status).observe(time.perf_counter() - started)


class RequestLatencyMiddleware:
    """Times every request (sync or async stack) into avatarsite_http_request_duration_seconds."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        _latency_observe(request, response, started)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        _latency_observe(request, response, started)
        return response


# --- scrape-time collectors ----------------------------------------------------------------------


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


_COLLECTORS: list[Collector] = []


def collector_register(collector: Collector) -> None:
    """Add a collector read at each scrape (an app's AppConfig.ready()); registering the same
    class twice replaces the first (ready() may run twice in tests)."""
    _COLLECTORS[:] = [known for known in _COLLECTORS if type(known) is not type(collector)]
    _COLLECTORS.append(collector)


SOURCE_UP = "avatarsite_metrics_source_up"
SOURCE_UP_HELP = "1 when this scrape could read the source (database, cache, broker); 0: its figures are missing."


def source_up(source: str, up: bool) -> GaugeMetricFamily:
    """Whether this scrape could read a source (a down one's figures are missing from it)."""
    family = GaugeMetricFamily(SOURCE_UP, SOURCE_UP_HELP, labels=["source"])
    family.add_metric([source], 1.0 if up else 0.0)
    return family


class BrokerQueueCollector:
    """avatarsite_queue_messages: messages waiting in each lane's queue at the broker (not yet taken
    by a worker; every priority level summed)."""

    def collect(self) -> Iterator[Metric]:
        from avatarsite.celery import QUEUES, app

        family = GaugeMetricFamily("avatarsite_queue_messages", "Messages waiting at the broker, by queue (lane).", labels=["queue"])
        try:
            with app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.REDIS_CONNECT_TIMEOUT_SECONDS)
                channel = conn.default_channel
                for queue in QUEUES:
                    # A declare (what every worker does at start) answers the queue's length on any transport.
                    family.add_metric([queue], float(channel.queue_declare(queue=queue).message_count))
        except (*INFRASTRUCTURE_ERRORS, OSError) as exc:
            logger.warning("metrics: the broker could not be read (%r)", exc)
            yield source_up("broker", False)
            return
        yield family
        yield source_up("broker", True)


collector_register(BrokerQueueCollector())


class _Scrape:
    """What one scrape reads: every process's files (multiprocess mode) or this process's registry,
    then each registered collector. Made per scrape, as prometheus-client's multiprocess docs ask."""

    def collect(self) -> Iterator[Metric]:
        folder = settings.PROMETHEUS_MULTIPROC_DIR
        sources = [MultiProcessCollector(None, path=folder)] if folder else [REGISTRY]
        up = GaugeMetricFamily(SOURCE_UP, SOURCE_UP_HELP, labels=["source"])
        for source in [*sources, *_COLLECTORS]:
            for family in source.collect():
                if family.name == SOURCE_UP:  # one family in the text, whichever collectors reported
                    up.samples.extend(family.samples)
                else:
                    yield family
        yield up


# --- the endpoint --------------------------------------------------------------------------------


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _refused(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse(error_body(code=code, message=message), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def metrics_allowed(request: HttpRequest) -> JsonResponse | None:
    """None when the caller may read the metrics (a staff session, or the METRICS_TOKEN bearer
    compared in constant time), else the 401/403 to answer."""
    token = _bearer(request)
    if token is not None:
        expected = settings.METRICS_TOKEN
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return None
        return _refused(401, "not_authenticated", "The bearer token is not the metrics token.")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if user.is_active and user.is_staff:
            return None
        return _refused(403, "permission_denied", "Metrics are for staff and the metrics token only.")
    return _refused(401, "not_authenticated", "Sign in as staff or send the metrics token as a bearer token.")


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: the Prometheus text format for staff or the metrics token."""
    refused = metrics_allowed(request)
    if refused is not None:
        return refused
    # The classic text format (names with underscores only) that every Prometheus version reads.
    return HttpResponse(generate_latest(_Scrape()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
