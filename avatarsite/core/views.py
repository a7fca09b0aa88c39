"""Site-wide pages: the home page and the health endpoint."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from billing.selectors import plan_cards

from .health import health_report


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"cards": plan_cards(), "sales_email": settings.BILLING_SALES_EMAIL})


@require_GET
def api_overview(request: HttpRequest) -> HttpResponse:
    return render(request, "core/api.html")


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part is up, 503 naming the parts that are down."""
    report = await health_report()
    return JsonResponse(report.as_dict(), status=200 if report.ok else 503)
