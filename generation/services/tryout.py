"""The admin's "try it": one small call to a provider's model, booked in the ledger, its answer shown and not stored.

The call is real and billed, so it is booked like any other (a CostEntry without a job, plan
"try-it"): it shows in the spend and in the health figures it helps an operator judge. It does not
touch the circuit breaker, which counts the jobs' calls only: an operator's look neither opens a
provider's circuit nor closes it. One image at the smallest side the model makes from
GENERATION_TRY_IT_SIZE up, a fixed harmless prompt, given up after GENERATION_TRY_IT_TIMEOUT_SECONDS.
"""

import base64
import contextlib
import io
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from ..errors import TryItUnavailableError
from ..health import catalogue_models
from ..ledger import call_estimated_cost
from ..models import CostEntry
from ..providers.base import CallContext, ContentRefusedError, GenerationRequest, GenerationResult, ProviderCanceledError, ProviderError
from ..providers.registry import provider_get

logger = logging.getLogger(__name__)

TRY_IT_PLAN = "try-it"
TRY_IT_PROMPT = "A friendly smiling person with short brown hair and a blue shirt, plain light background, head and shoulders"
THUMBNAIL_SIDE = 256
ERROR_WORDS = {
    "transient": "The service is busy or unreachable (a timeout, a rate limit or a server error): trying later may work.",
    "permanent": "The service will not do this request (a bad request, the key, or the account's billing).",
    "refused": "The service refused the content as unsafe.",
    "canceled": "The call was stopped before it finished.",
    "unknown": "Something unexpected happened: the call may have been billed.",
}


@dataclass(frozen=True)
class TryItOutcome:
    provider: str
    model: str
    size: int
    ok: bool
    latency_ms: int
    cost_usd: Decimal
    request_id: str = ""
    # The first image, shrunk to a thumbnail, as a data: URI (it is not stored anywhere).
    image_data_uri: str = ""
    width: int = 0  # of the image the provider made
    height: int = 0
    error_kind: str = ""
    error: str = ""  # the provider's message
    explanation: str = ""  # what the error kind means, in words


def _record_request_id(entry: CostEntry, request_id: str) -> None:
    # One charge per provider request id: a clash (never expected) keeps the id on the other row.
    if request_id and not entry.request_id:
        with contextlib.suppress(IntegrityError), transaction.atomic():
            CostEntry.objects.filter(pk=entry.pk).update(request_id=request_id[:100])
            entry.request_id = request_id[:100]


def _thumbnail(result: GenerationResult) -> tuple[str, int, int]:
    """The first image as a PNG thumbnail data URI, with the made image's size; ValueError when unreadable."""
    try:
        with Image.open(io.BytesIO(result.images[0].data)) as image:
            width, height = image.size
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="PNG")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"the answer is not an image we can read ({exc})") from exc
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode(), width, height


def _settle(entry: CostEntry, **fields: object) -> CostEntry:
    finished = timezone.now()
    fields.update(finished_at=finished, latency_ms=max(0, int((finished - entry.created_at).total_seconds() * 1000)))
    if "error_text" in fields:
        fields["error"] = str(fields.pop("error_text"))[:255]
    CostEntry.objects.filter(pk=entry.pk).update(**fields)
    entry.refresh_from_db()
    return entry


def _failure(entry: CostEntry, base: dict, *, kind: str, error: str, **fields: object) -> TryItOutcome:
    """Book the line as `fields` say and tell what went wrong, in words."""
    entry = _settle(entry, **fields)
    return TryItOutcome(
        **base,
        ok=False,
        latency_ms=entry.latency_ms,
        cost_usd=entry.cost_usd,
        request_id=entry.request_id,
        error_kind=kind,
        error=error,
        explanation=ERROR_WORDS.get(kind, ""),
    )


def _provider_failed(entry: CostEntry, base: dict, exc: ProviderError) -> TryItOutcome:
    outcome = CostEntry.Outcome.FAILED
    if isinstance(exc, ContentRefusedError):
        outcome = CostEntry.Outcome.REFUSED
    elif isinstance(exc, ProviderCanceledError):
        outcome = CostEntry.Outcome.CANCELED
    fields: dict = {"outcome": outcome, "error_kind": exc.kind, "error_text": str(exc)}
    if exc.cost_usd:  # billed although nothing came of it
        fields["cost_usd"] = Decimal(str(exc.cost_usd))
    _record_request_id(entry, exc.request_id)
    return _failure(entry, base, kind=exc.kind, error=str(exc), **fields)


def _delivered(entry: CostEntry, base: dict, result: GenerationResult) -> TryItOutcome:
    _record_request_id(entry, result.request_id)
    cost = Decimal(str(result.cost_usd))
    try:
        if not result.images:
            raise ValueError("the answer held no image" + (" (the provider withheld it as unsafe)" if result.refused_count else ""))
        data_uri, width, height = _thumbnail(result)
    except ValueError as exc:
        kind, outcome = ("refused", CostEntry.Outcome.REFUSED) if result.refused_count else ("permanent", CostEntry.Outcome.FAILED)
        return _failure(entry, base, kind=kind, error=str(exc), outcome=outcome, error_kind=kind, error_text=str(exc), cost_usd=cost)
    pixels = sum(image.width * image.height for image in result.images)
    megapixels = (Decimal(pixels) / Decimal(1_000_000)).quantize(Decimal("0.001"))
    entry = _settle(entry, outcome=CostEntry.Outcome.SUCCEEDED, images=len(result.images), megapixels=megapixels, cost_usd=cost)
    return TryItOutcome(
        **base,
        ok=True,
        latency_ms=entry.latency_ms,
        cost_usd=cost,
        request_id=entry.request_id,
        image_data_uri=data_uri,
        width=width,
        height=height,
    )


def provider_try(*, provider: str, model: str) -> TryItOutcome:
    """Make one small call to `provider`'s `model` and say what came of it; the call is booked."""
    adapter = provider_get(provider)
    if adapter is None:
        raise TryItUnavailableError(f"{provider} is not set up here (no settings entry, or no key).")
    if model not in catalogue_models(adapter):
        raise TryItUnavailableError(f"{provider} has no model {model!r} in its catalogue.")
    size = adapter.native_size(model, settings.GENERATION_TRY_IT_SIZE)
    request = GenerationRequest(prompt=TRY_IT_PROMPT, model=model, style="photo", seed=1, size=size, num_images=1)
    # Booked before the call, as the pipeline books its calls: a call that may be billed has its line.
    entry = CostEntry.objects.create(job=None, provider=provider, model=model, plan=TRY_IT_PLAN)
    context = CallContext(
        on_submitted=lambda request_id: _record_request_id(entry, request_id),
        deadline=time.monotonic() + settings.GENERATION_TRY_IT_TIMEOUT_SECONDS,
    )
    base = {"provider": provider, "model": model, "size": size}
    try:
        result = adapter.generate(request, context)
    except ProviderError as exc:
        return _provider_failed(entry, base, exc)
    except Exception as exc:  # an adapter's bug: shown on the page, booked at the model's price (it may have billed)
        logger.exception("try it: %s %s raised", provider, model)
        error = f"{type(exc).__name__}: {exc}"
        cost = Decimal(str(call_estimated_cost(provider=adapter, model=model, size=size, count=1)))
        return _failure(entry, base, kind="unknown", error=error, outcome=CostEntry.Outcome.UNKNOWN, error_text=error, cost_usd=cost)
    return _delivered(entry, base, result)
