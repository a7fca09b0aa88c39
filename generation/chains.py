"""Routing: the order in which a job tries its plan's providers, fixed when the job is requested.

A plan's chain lists "provider:model" entries; its routing policy (billing.models.Plan.Routing)
orders them for each job, from the catalogue (prices, what each model can make) and the providers'
live health (generation.health: success rate, latency and breaker over a recent window):

- ordered: as the plan lists them;
- cheapest: the healthy entries by what this request would cost, then the unhealthy in the plan's order;
- fastest: the healthy entries by their median latency (or the expected time before any is measured);
- free_first: the healthy free entries, then the healthy others in the plan's order, then the unhealthy.

An entry that cannot serve the request (not set up, switched off, or unable to make its size or
number of images) is left out; an unhealthy one stays last, so a chain whose every provider looks
unwell is still tried. The run falls to the next entry on failure, as before.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from .providers.registry import entry_get, model_entry
from .sizes import entry_images_per_call, within_upscale

ORDERED, CHEAPEST, FASTEST, FREE_FIRST = "ordered", "cheapest", "fastest", "free_first"
POLICIES = (ORDERED, CHEAPEST, FASTEST, FREE_FIRST)


@dataclass(frozen=True)
class Candidate:
    entry: str
    position: int
    healthy: bool
    # What this request would cost at the provider's price (None: the catalogue gives no price).
    price_usd: float | None
    # Median latency measured, else the expected time before any measurement.
    seconds: float


def chain_route(
    *, chain: Sequence[str], policy: str, size: int, num_images: int, health: Callable[..., dict] | None = None
) -> tuple[str, ...]:
    """The entries of `chain` that can serve this request, in the order `policy` gives. `health`
    (entries, window=) -> {entry: ModelHealth}; generation.health.entry_health by default."""
    capable = [entry for entry in chain if _can_serve(entry, size=size, num_images=num_images)]
    if policy == ORDERED or len(capable) < 2:
        return tuple(capable)
    if health is None:
        from .health import entry_health as health
    window = timedelta(seconds=settings.GENERATION_ROUTING_WINDOW_SECONDS)
    measured = health(capable, window=window)
    candidates = [
        _candidate(entry, position, measured.get(entry), size=size, num_images=num_images) for position, entry in enumerate(capable)
    ]
    return tuple(candidate.entry for candidate in sorted(candidates, key=_ORDER[policy]))


def _can_serve(entry: str, *, size: int, num_images: int) -> bool:
    provider = entry_get(entry)
    if provider is None:
        return False
    model = entry.partition(":")[2]
    per_call = entry_images_per_call(entry)
    if per_call is not None and num_images > per_call:
        return False
    return within_upscale(native=provider.native_size(model, size), size=size)


def _candidate(entry: str, position: int, health: object, *, size: int, num_images: int) -> Candidate:
    provider_name = entry.partition(":")[0]
    p50 = getattr(health, "p50_ms", None)
    seconds = p50 / 1000 if p50 is not None else float(settings.GENERATION_EXPECTED_SECONDS.get(provider_name, 10))
    return Candidate(
        entry=entry,
        position=position,
        healthy=_healthy(health),
        price_usd=entry_price(entry, size=size, num_images=num_images, seconds=seconds),
        seconds=seconds,
    )


def _healthy(health: object) -> bool:
    """Breaker not open, and a success rate at or above GENERATION_ROUTING_MIN_SUCCESS (or no
    calls yet: a provider nobody has tried is given its chance)."""
    if health is None:
        return True
    if getattr(health, "breaker", "closed") == "open":
        return False
    rate = getattr(health, "success_rate", None)
    return rate is None or rate >= settings.GENERATION_ROUTING_MIN_SUCCESS


def entry_price(entry: str, *, size: int, num_images: int, seconds: float) -> float | None:
    """What a request of `num_images` at `size` px costs at the entry's catalogue price: per
    image, per megapixel (of the side the model makes) or per GPU-second (`seconds` of it); the
    local generator is free; None when the catalogue gives no price."""
    name, _, model = entry.partition(":")
    provider = entry_get(entry)
    if provider is None:
        return None
    options = model_entry(provider, model)
    if options is None:
        return 0.0 if name == "local" else None
    if "cost_per_image" in options:
        return float(options["cost_per_image"]) * num_images
    if "cost_per_megapixel" in options:
        side = provider.native_size(model, size)
        return float(options["cost_per_megapixel"]) * side * side / 1_000_000 * num_images
    if "cost_per_gpu_second" in options:
        return float(options["cost_per_gpu_second"]) * seconds
    if "credits" in options:
        return float(options["credits"]) * float(getattr(provider, "usd_per_credit", 0.01)) * num_images
    return None


def _unknown_last(value: float | None) -> float:
    return float("inf") if value is None else value


_ORDER: dict[str, Callable[[Candidate], tuple]] = {
    CHEAPEST: lambda c: (not c.healthy, _unknown_last(c.price_usd) if c.healthy else 0, c.position),
    FASTEST: lambda c: (not c.healthy, c.seconds if c.healthy else 0, c.position),
    FREE_FIRST: lambda c: (not c.healthy, not (c.healthy and c.price_usd == 0), c.position),
}
