"""Outages of the services the site stands on (database, Redis, the broker) answered as 503s that say
what is unavailable and when to retry, instead of 500s with a traceback.

One middleware turns the exceptions of those services into the answer; the settings bound how long
a request may wait for them first (DATABASE_POOL_TIMEOUT_SECONDS, DATABASE_CONNECT_TIMEOUT_SECONDS,
REDIS_CONNECT_TIMEOUT_SECONDS, REDIS_TIMEOUT_SECONDS), so the answer comes within a few seconds.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers

from .api import error_body
from .infrastructure import BROKER_ERRORS, DATABASE_ERRORS, REDIS_ERRORS

logger = logging.getLogger(__name__)


# The part that is down, as /healthz names it, and how a person is told.
PARTS = {
    "database": "The database",
    "cache": "The cache (sessions and rate limits)",
    "broker": "The task queue",
}


def outage_part(exc: BaseException | None) -> str | None:
    """Which part an exception says is unavailable (a /healthz check name), or None if it is no outage.
    Only the infrastructure errors that name a part (avatarsite/core/infrastructure.py): other errors,
    a storage fault among them, stay 500s."""
    if isinstance(exc, DATABASE_ERRORS):
        return "database"
    if isinstance(exc, BROKER_ERRORS):
        return "broker"
    if isinstance(exc, REDIS_ERRORS):
        return "cache"
    return None


def _wants_json(request: HttpRequest) -> bool:
    # The API's pages for people (the overview and the docs) are HTML; everything else under /api/ is JSON.
    return request.path.startswith("/api/") and request.path not in ("/api/", "/api/docs/")


def outage_response(request: HttpRequest, part: str) -> HttpResponse:
    """503 naming the part, with Retry-After: the API's error shape under /api/, a short page elsewhere.
    Rendered without the request's context, which would read the session and the user again."""
    retry_after = settings.OUTAGE_RETRY_AFTER_SECONDS
    message = f"{PARTS[part]} is unavailable right now. Please retry in {retry_after} seconds."
    if _wants_json(request):
        details = {"unavailable": part, "retry_after": retry_after}
        response = JsonResponse(error_body(code="service_unavailable", message=message, details=details), status=503)
    else:
        response = HttpResponse(render_to_string("core/unavailable.html", {"message": message, "part": part}), status=503)
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)  # a proxy or CDN must not keep serving the outage after it ended
    return response


def outage_answer(request: HttpRequest, exc: BaseException | None) -> HttpResponse | None:
    """The 503 for an outage exception (logged on one line: an outage is not a bug), else None."""
    part = outage_part(exc)
    if part is None:
        return None
    logger.warning("%s %s answered 503: %s unavailable (%s: %s)", request.method, request.path, part, type(exc).__name__, exc)
    response = outage_response(request, part)
    response._has_been_logged = True  # by the line above: Django would add an ERROR line for the 503
    return response


class OutageMiddleware:
    """Answers a view's (or DRF's, which re-raises what it does not handle) outage exception with a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_answer(request, exception)
