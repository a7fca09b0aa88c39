"""The operator's dashboard at /ops/ (staff only): every chart for a date range, or one chart's
table as CSV (?format=csv&chart=<name>)."""

import csv

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from generation.reports import budget_standing

from .forms import RangeForm, default_range
from .selectors import CHART_NAMES, dashboard_charts


@require_safe
@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    start, end = default_range()
    given = "start" in request.GET or "end" in request.GET
    form = RangeForm(request.GET if given else None, initial={"start": start, "end": end})
    if given:
        if not form.is_valid():
            # A bad range is the operator's typo: the form says why, and no figures are shown for it.
            return render(request, "ops/dashboard.html", {"form": form, "charts": [], "start": None, "end": None}, status=400)
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    if request.GET.get("format") == "csv":
        name = request.GET.get("chart", "")
        if name not in CHART_NAMES:
            raise Http404("No such chart")
        return _csv(dashboard_charts(start=start, end=end, only=name)[0], start=start, end=end)
    charts = dashboard_charts(start=start, end=end)
    query = f"start={start.isoformat()}&end={end.isoformat()}"
    context = {"form": form, "charts": charts, "start": start, "end": end, "query": query, "budget": budget_standing()}
    return render(request, "ops/dashboard.html", context)


def _csv(chart, *, start, end) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ops-{chart.name}-{start.isoformat()}-{end.isoformat()}.csv"'
    writer = csv.writer(response)
    writer.writerow(chart.table.headers)
    writer.writerows(chart.table.text_rows)
    return response
