"""The operator's dashboard, read: every chart of /ops/ with its table (the same figures the CSV
export writes), built from the apps' public report modules only (generation.reports,
billing.reports, gallery.reports, avatarsite.accounts.reports)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.utils.safestring import SafeString

from avatarsite.accounts import reports as accounts_reports
from billing import reports as billing_reports
from gallery import reports as gallery_reports
from generation import reports as generation_reports

from .charts import Series, bar_chart, hbar_chart, line_chart

Cell = str | int | Decimal | float | None
DailySeries = Sequence[tuple[date, str, Decimal | int]]
CENTS = Decimal("0.00001")  # the ledger's precision (CostEntry.cost_usd has five decimal places)


@dataclass(frozen=True)
class Table:
    """A chart's figures: a header row, then rows of values (the page formats them, CSV writes them)."""

    headers: list[str]
    rows: list[list[Cell]]

    @property
    def text_rows(self) -> list[list[str]]:
        """The rows as the page and the CSV write them."""
        return [[cell_text(value) for value in row] for row in self.rows]


@dataclass(frozen=True)
class Chart:
    name: str  # in the CSV's URL: ?format=csv&chart=<name>
    title: str
    svg: SafeString
    table: Table
    summary: str = ""  # one line above the chart (its headline figure), also the SVG's label
    notes: list[str] = field(default_factory=list)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def cell_text(value: Cell) -> str:
    """How a figure is written, on the page and in the CSV alike."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value.quantize(CENTS))
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"
    return str(value)


def _pivot(series: DailySeries, *, days: list[date], money: bool = False) -> tuple[list[str], dict[str, list]]:
    """The keys in order and, per key, a value per day (zero where absent)."""
    keys = sorted({key for _day, key, _value in series})
    zero = Decimal(0) if money else 0
    index = {day: n for n, day in enumerate(days)}
    values = {key: [zero] * len(days) for key in keys}
    for day, key, value in series:
        values[key][index[day]] += value
    return keys, values


def _daily_table(series: DailySeries, *, days: list[date], value_name: str, money: bool = False) -> tuple[Table, list[str], dict]:
    """A row per day that has figures, a column per key, a total column and a total row."""
    keys, values = _pivot(series, days=days, money=money)
    zero = Decimal(0) if money else 0
    rows: list[list[Cell]] = []
    for n, day in enumerate(days):
        row = [values[key][n] for key in keys]
        if any(row):
            rows.append([day.isoformat(), *row, sum(row, zero)])
    totals = [sum(values[key], zero) for key in keys]
    rows.append(["Total", *totals, sum(totals, zero)])
    return Table(["Day", *keys, f"All {value_name}"], rows), keys, values


def _day_labels(days: list[date]) -> list[str]:
    return [f"{day:%b} {day.day}" for day in days]


def _daily_chart(
    *, name: str, title: str, series: DailySeries, days: list[date], value_name: str, money: bool = False, draw: Callable = bar_chart
) -> Chart:
    table, keys, values = _daily_table(series, days=days, value_name=value_name, money=money)
    total = table.rows[-1][-1]
    summary = f"Spent in the range: ${cell_text(total)}" if money else f"{value_name.capitalize()} in the range: {total}"
    svg = draw(
        title=title,
        labels=_day_labels(days),
        series=[Series(key, [float(v) for v in values[key]]) for key in keys],
        unit="$" if money else "",
        summary=summary,
    )
    return Chart(name=name, title=title, svg=svg, table=table, summary=summary)


def _percent(share: float | None) -> str:
    return "no jobs" if share is None else f"{100 * share:.1f} %"


def _reuse_chart(*, start: date, end: date, days: list[date]) -> Chart:
    series = generation_reports.reuse_by_day(start=start, end=end)
    share = generation_reports.reuse_share(start=start, end=end, series=series)
    chart = _daily_chart(name="reuse", title="How requests were answered", series=series, days=days, value_name="jobs")
    summary = (
        f"{_percent(share.reused_share)} answered without a provider call (reused); "
        f"{_percent(share.no_paid_call_share)} without a paid call (reused or an instant style)"
    )
    notes = [
        "reused: the job took an identical request's result (stored, or in flight): no provider call.",
        "instant: an instant style, drawn by our own generator: no paid call.",
        "provider: sent to an AI provider.",
    ]
    return Chart(name=chart.name, title=chart.title, svg=chart.svg, table=chart.table, summary=summary, notes=notes)


def _health_chart(*, start: date, end: date) -> Chart:
    rows = generation_reports.provider_health(start=start, end=end)
    table = Table(
        ["Provider", "Model", "Calls", "Succeeded", "Success rate", "p50 ms", "p95 ms", "Breaker", "Last error"],
        [[r.provider, r.model, r.calls, r.succeeded, r.success_rate, r.p50_ms, r.p95_ms, r.breaker, r.last_error] for r in rows],
    )
    called = [r for r in rows if r.calls]
    svg = hbar_chart(
        title="Latency per provider and model",
        labels=[f"{_percent(r.success_rate)} ok · {r.provider}:{r.model}" for r in called],
        series=[Series("p50 ms", [r.p50_ms or 0 for r in called]), Series("p95 ms", [r.p95_ms or 0 for r in called])],
        unit="",
        summary=f"Finished provider calls: {sum(r.calls for r in rows)}",
    )
    return Chart(
        name="health",
        title="Success rate and latency per provider and model",
        svg=svg,
        table=table,
        summary=f"Finished provider calls: {sum(r.calls for r in rows)}",
        notes=["Success rate: succeeded / (succeeded + failed + unknown); refusals and cancels say nothing of the provider."],
    )


def _lanes_chart(*, start: date, end: date) -> Chart:
    lanes = generation_reports.lane_figures(start=start, end=end)
    table = Table(
        ["Lane", "Queue", "Waiting now", "Running now", "Started in range", "Wait p50 s", "Wait p95 s", "Wait mean s"],
        [[f.lane, f.queue, f.queued, f.running, f.started, f.wait_p50_s, f.wait_p95_s, f.wait_mean_s] for f in lanes],
    )
    svg = hbar_chart(
        title="Wait for a worker per lane (seconds)",
        labels=[f"{f.lane} · {f.queued} waiting, {f.running} running" for f in lanes],
        series=[Series("wait p50 s", [f.wait_p50_s or 0 for f in lanes]), Series("wait p95 s", [f.wait_p95_s or 0 for f in lanes])],
        unit="s",
    )
    waiting = sum(f.queued for f in lanes)
    return Chart(
        name="lanes",
        title="Queue depth and wait per lane",
        svg=svg,
        table=table,
        summary=f"Jobs waiting now: {waiting}",
        notes=["Wait: started_at - created_at of the range's jobs a worker started (reused jobs never wait)."],
    )


def _styles_chart(*, start: date, end: date) -> Chart:
    styles = generation_reports.top_styles(start=start, end=end)
    table = Table(["Style", "Label", "Jobs"], [[s.style, s.label, s.jobs] for s in styles])
    svg = hbar_chart(title="Top styles", labels=[s.label for s in styles], series=[Series("jobs", [s.jobs for s in styles])])
    return Chart(name="styles", title="Top styles", svg=svg, table=table, summary=f"Styles asked for: {len(styles)}")


def _gallery_chart(*, start: date, end: date, days: list[date]) -> Chart:
    series = gallery_reports.gallery_counts_by_day(start=start, end=end)
    chart = _daily_chart(
        name="gallery", title="Gallery views and downloads", series=series, days=days, value_name="views and downloads", draw=line_chart
    )
    notes = [f"All-time downloads: {gallery_reports.downloads_all_time()}."]
    return Chart(name=chart.name, title=chart.title, svg=chart.svg, table=chart.table, summary=chart.summary, notes=notes)


def _signups_chart(*, start: date, end: date, days: list[date]) -> Chart:
    signups = accounts_reports.signups_by_day(start=start, end=end)
    conversions = [(day, f"paid: {plan}", n) for day, plan, n in billing_reports.conversions_by_day(start=start, end=end)]
    chart = _daily_chart(
        name="signups", title="Sign-ups and conversions to paid", series=[*signups, *conversions], days=days, value_name="", draw=line_chart
    )
    total_signups = sum(n for _d, _k, n in signups)
    total_paid = sum(n for _d, _k, n in conversions)
    summary = f"Sign-ups: {total_signups}; conversions to a paid plan: {total_paid}"
    table = Table([*chart.table.headers[:-1]], [row[:-1] for row in chart.table.rows])  # a sum of the two means nothing
    return Chart(
        name=chart.name,
        title=chart.title,
        svg=chart.svg,
        table=table,
        summary=summary,
        notes=["A conversion: a subscription to a paid plan (a price, or a contract), on the day it was made."],
    )


CHART_NAMES = (
    "spend-provider",
    "spend-plan",
    "jobs-plan",
    "jobs-outcome",
    "reuse",
    "health",
    "lanes",
    "refusals",
    "styles",
    "gallery",
    "signups",
)


def dashboard_charts(*, start: date, end: date, only: str | None = None) -> list[Chart]:
    """Every chart of the dashboard for [start, end] (UTC days, both included), or just `only`."""
    days = days_between(start, end)
    builders: dict[str, Callable[[], Chart]] = {
        "spend-provider": lambda: _daily_chart(
            name="spend-provider",
            title="Spend per day per provider (USD)",
            series=generation_reports.spend_by_day(start=start, end=end, by="provider"),
            days=days,
            value_name="USD",
            money=True,
        ),
        "spend-plan": lambda: _daily_chart(
            name="spend-plan",
            title="Spend per day per plan (USD)",
            series=generation_reports.spend_by_day(start=start, end=end, by="plan"),
            days=days,
            value_name="USD",
            money=True,
        ),
        "jobs-plan": lambda: _daily_chart(
            name="jobs-plan",
            title="Generations per day per plan",
            series=generation_reports.jobs_by_day(start=start, end=end, by="plan"),
            days=days,
            value_name="jobs",
        ),
        "jobs-outcome": lambda: _daily_chart(
            name="jobs-outcome",
            title="Generations per day by outcome",
            series=generation_reports.jobs_by_day(start=start, end=end, by="status"),
            days=days,
            value_name="jobs",
        ),
        "reuse": lambda: _reuse_chart(start=start, end=end, days=days),
        "health": lambda: _health_chart(start=start, end=end),
        "lanes": lambda: _lanes_chart(start=start, end=end),
        "refusals": lambda: _daily_chart(
            name="refusals",
            title="Requests refused for a spent quota",
            series=generation_reports.quota_refusals_by_day(start=start, end=end),
            days=days,
            value_name="refusals",
        ),
        "styles": lambda: _styles_chart(start=start, end=end),
        "gallery": lambda: _gallery_chart(start=start, end=end, days=days),
        "signups": lambda: _signups_chart(start=start, end=end, days=days),
    }
    names = [only] if only else list(CHART_NAMES)
    return [builders[name]() for name in names]
