"""Site-wide pages: the API overview, the health endpoint, and the not-found and server-error answers
(JSON in the API's error shape under /api/, Django's pages elsewhere). The home page is gallery's."""

import functools
import re
import sys
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from .api import error_body
from .health import health_report
from .outage import outage_answer

API_GUIDE = Path(__file__).resolve().parent / "api_docs.md"


@functools.cache
def api_quick_start() -> str:
    """The guide's end-to-end example (api_docs.md, also the docs' introduction): one text, shown on
    the API page as it is in the docs, so the two never differ."""
    section = API_GUIDE.read_text().split("## Generating an avatar, end to end", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@require_GET
def api_overview(request: HttpRequest) -> HttpResponse:
    # The plans that include the API come from billing's template tags (templates/core/api.html): core imports no app.
    return render(request, "core/api.html", {"quick_start": api_quick_start()})


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part is up, 503 naming the parts that are down."""
    report = await health_report()
    response = JsonResponse(report.as_dict(), status=200 if report.ok else 503)
    if not report.ok:
        response["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER_SECONDS)
    return response


def _api_not_found() -> JsonResponse:
    return JsonResponse(error_body(code="not_found", message="Not found."), status=404)


@csrf_exempt  # it changes nothing; a POST to a path the API lacks is a 404, as it was before this route, not a CSRF 403
def api_unrouted(request: HttpRequest, rest: str) -> HttpResponse:
    """The last route under /api/: a path the API does not have is a JSON 404 in every mode (with
    DEBUG on, Django answers an unmatched URL with its HTML debug page, not handler404). A path
    that exists with a slash added is redirected there, as CommonMiddleware's APPEND_SLASH would
    have done had this route not matched first."""
    if settings.APPEND_SLASH and not request.path_info.endswith("/"):
        try:
            match = resolve(f"{request.path_info}/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_unrouted:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return _api_not_found()


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL that matches no route, or a view's 404: under /api/ a JSON 404 like every other API error."""
    if request.path.startswith("/api/"):
        return _api_not_found()
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # An outage that surfaced outside a view (in a middleware), where OutageMiddleware cannot see it.
    outage = outage_answer(request, sys.exc_info()[1])
    if outage is not None:
        return outage
    if request.path.startswith("/api/"):
        message = "Something went wrong on our side; it has been logged. Please retry shortly."
        return JsonResponse(error_body(code="server_error", message=message), status=500)
    return defaults.server_error(request)
