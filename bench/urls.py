"""The project's URLs plus /bench/bare: a constant JSON body, the framework's floor."""

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path

from avatarsite.urls import urlpatterns as project_urlpatterns

BARE_BODY = b'{"results": "' + b"x" * max(0, int(os.environ.get("BENCH_BARE_BYTES", "1000")) - 15) + b'"}'


def bare_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BARE_BODY, content_type="application/json")


urlpatterns = [path("bench/bare", bare_json), *project_urlpatterns]
