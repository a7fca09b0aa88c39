"""Reads of provider health from the cost ledger: per provider and model, calls, success rate, latency
percentiles, last error and today's spend over a window, with the provider's breaker state.

What counts (one CostEntry row is one provider call):
- `calls`: the window's calls with an outcome (pending ones are still running: not counted).
- `success_rate`: succeeded / (succeeded + failed + unknown). A refusal (the provider judged the
  prompt or the image unsafe) is the provider working as it should, and a canceled call was stopped
  by us (the user, a run that ended): neither says anything about the provider, so neither counts.
  An unknown outcome (the answer was lost) counts as a failure: the call did not deliver.
- `p50_ms` / `p95_ms`: nearest-rank percentiles of the latency of succeeded calls. They are computed
  in Python (the same on PostgreSQL and SQLite), over at most GENERATION_HEALTH_LATENCY_SAMPLE of the
  most recent succeeded calls per model (one windowed query), so the read stays bounded however busy
  the window was.
- `last_error`: "<kind>: <message>" of the latest failed or unknown call in the window.
- `spend_today_usd`: every call booked since local midnight (settings.TIME_ZONE), whatever the window.
- `breaker`: the provider's circuit breaker (generation/breaker.py), "unknown" when the cache that
  holds it cannot be reached (the breaker then lets every call through).
"""

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q, Sum
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from avatarsite.core.infrastructure import INFRASTRUCTURE_ERRORS

from .breaker import breaker_state
from .models import CostEntry
from .providers.registry import provider_build, provider_get, provider_names

logger = logging.getLogger(__name__)

Outcome = CostEntry.Outcome
# The outcomes a success rate is taken over (see the module docstring for why not the others).
COUNTED = (Outcome.SUCCEEDED, Outcome.FAILED, Outcome.UNKNOWN)
FAILURES = (Outcome.FAILED, Outcome.UNKNOWN)
UNKNOWN_BREAKER = "unknown"


@dataclass(frozen=True)
class ModelHealth:
    provider: str
    model: str
    calls: int  # finished calls in the window (outcome not pending)
    succeeded: int
    success_rate: float | None  # succeeded / (succeeded + failed + unknown); None when none of those
    p50_ms: int | None  # latency of succeeded calls, None when none
    p95_ms: int | None
    last_error: str  # "" when none in the window; "<kind>: <message>"
    last_error_at: datetime | None
    spend_today_usd: Decimal  # since local midnight (settings.TIME_ZONE)
    breaker: str  # "closed" | "open" | "half-open" (per provider); "unknown" when the cache is down

    @property
    def entry(self) -> str:
        """The "provider:model" chain entry this row is about."""
        return f"{self.provider}:{self.model}"


def percentile(values: list[int], share: float) -> int | None:
    """Nearest-rank percentile of sorted `values` (share 0.5 = median), None when empty."""
    if not values:
        return None
    return values[max(0, math.ceil(share * len(values)) - 1)]


def local_midnight(now: datetime) -> datetime:
    """The start of `now`'s day in settings.TIME_ZONE, as an aware datetime."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def catalogue_models(provider: object) -> list[str]:
    """The models an adapter is set up with: its catalogue ("models" option), else its default model."""
    models = list(getattr(provider, "models", None) or ())
    if not models:
        default = getattr(provider, "default_model", "") or getattr(provider, "model", "")
        models = [default] if default else []
    return models


def _empty(provider: str, model: str) -> ModelHealth:
    return ModelHealth(provider, model, 0, 0, None, None, None, "", None, Decimal(0), "")


def _ledger_figures(*, window: timedelta, now: datetime) -> dict[tuple[str, str], ModelHealth]:
    """Every provider:model with calls in the window or spend today, from the ledger (breaker left "")."""
    since, midnight = now - window, local_midnight(now)
    rows = CostEntry.objects.filter(created_at__gte=min(since, midnight), created_at__lte=now)
    in_window = Q(created_at__gte=since)
    totals = (
        rows.order_by()
        .values("provider", "model")
        .annotate(
            calls=Count("id", filter=in_window & ~Q(outcome=Outcome.PENDING)),
            succeeded=Count("id", filter=in_window & Q(outcome=Outcome.SUCCEEDED)),
            counted=Count("id", filter=in_window & Q(outcome__in=COUNTED)),
            spend=Sum("cost_usd", filter=Q(created_at__gte=midnight)),
        )
    )
    figures = {}
    for row in totals:
        if not row["calls"] and not row["spend"]:
            continue  # only pending calls, or spend before the window on a day we do not show
        figures[row["provider"], row["model"]] = replace(
            _empty(row["provider"], row["model"]),
            calls=row["calls"],
            succeeded=row["succeeded"],
            success_rate=row["succeeded"] / row["counted"] if row["counted"] else None,
            spend_today_usd=row["spend"] or Decimal(0),
        )
    window_rows = rows.filter(in_window)
    latest_first = Window(RowNumber(), partition_by=[F("provider"), F("model")], order_by=[F("created_at").desc(), F("id").desc()])
    # The latencies: at most the sample's size per model, the most recent (a filter on a window
    # function is a subquery, on PostgreSQL and SQLite alike).
    sample = settings.GENERATION_HEALTH_LATENCY_SAMPLE
    latencies: dict[tuple[str, str], list[int]] = {}
    succeeded = window_rows.filter(outcome=Outcome.SUCCEEDED).annotate(rank=latest_first).filter(rank__lte=sample)
    for provider, model, latency in succeeded.values_list("provider", "model", "latency_ms"):
        latencies.setdefault((provider, model), []).append(latency)
    for key, values in latencies.items():
        values.sort()
        if key in figures:
            figures[key] = replace(figures[key], p50_ms=percentile(values, 0.50), p95_ms=percentile(values, 0.95))
    last_errors = window_rows.filter(outcome__in=FAILURES).annotate(rank=latest_first).filter(rank=1)
    for provider, model, outcome, kind, message, created, finished in last_errors.values_list(
        "provider", "model", "outcome", "error_kind", "error", "created_at", "finished_at"
    ):
        if (provider, model) in figures:
            text = f"{kind or outcome}: {message}" if message else (kind or outcome)
            figures[provider, model] = replace(figures[provider, model], last_error=text, last_error_at=finished or created)
    return figures


def _breaker(provider: str) -> str:
    try:
        return breaker_state(provider=provider).state
    except INFRASTRUCTURE_ERRORS as exc:
        logger.warning("health: the breaker of %s cannot be read (%r)", provider, exc)
        return UNKNOWN_BREAKER


def _with_breakers(rows: Iterable[ModelHealth]) -> list[ModelHealth]:
    states: dict[str, str] = {}
    out = []
    for row in rows:
        if row.provider not in states:
            states[row.provider] = _breaker(row.provider)
        out.append(replace(row, breaker=states[row.provider]))
    return out


def model_health(*, window: timedelta = timedelta(hours=24), now: datetime | None = None) -> list[ModelHealth]:
    """Every provider:model with calls in the window, plus every model of a configured provider (no
    calls: zeros/None), sorted by provider and model."""
    now = now or timezone.now()
    figures = _ledger_figures(window=window, now=now)
    for name in provider_names():
        if provider_get(name) is None:
            continue  # not set up here (no key): shown only when the ledger has calls of it
        for model in catalogue_models(provider_build(name)):
            figures.setdefault((name, model), _empty(name, model))
    return _with_breakers(figures[key] for key in sorted(figures))


def _cached_figures(window: timedelta) -> dict[tuple[str, str], ModelHealth]:
    # Routing reads this for every job request: the ledger's figures are shared for a few seconds
    # (GENERATION_HEALTH_CACHE_SECONDS; a health figure over hours moves slowly), the breaker is read
    # live. The cache being down means computing them directly, never failing the request.
    key = f"generation:health:v1:{int(window.total_seconds())}"
    try:
        figures = cache.get(key)
    except INFRASTRUCTURE_ERRORS as exc:
        logger.warning("health: the cache is unreachable (%r); computing directly", exc)
        return _ledger_figures(window=window, now=timezone.now())
    if figures is None:
        figures = _ledger_figures(window=window, now=timezone.now())
        try:
            cache.set(key, figures, timeout=settings.GENERATION_HEALTH_CACHE_SECONDS)
        except INFRASTRUCTURE_ERRORS as exc:
            logger.warning("health: the cache is unreachable (%r); not kept", exc)
    return figures


def entry_health(entries: Iterable[str], *, window: timedelta) -> dict[str, ModelHealth]:
    """For routing: the health of "provider:model" entries, keyed by the entry as given (an entry
    without calls gets zeros/None, and its provider's breaker state)."""
    entries = list(dict.fromkeys(entries))
    figures = _cached_figures(window)
    rows = []
    for entry in entries:
        provider, _, model = entry.partition(":")
        rows.append(figures.get((provider, model)) or _empty(provider, model))
    return dict(zip(entries, _with_breakers(rows), strict=True))
