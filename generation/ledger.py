"""The cost ledger: one line (CostEntry) per provider request that may be billed, opened before the
request is sent and settled exactly once, by the run, the reconciler or a look-up.

Every write is conditional on the run's lease (the job's `lease_token`): a run that lost its job
writes nothing more, and the job's new owner settles what it left. A line whose request may have
been made, but whose fate cannot be learned, is settled as `unknown` at the model's price, never
as $0.
"""

import contextlib
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import CostEntry, GenerationJob
from .providers.base import GenerationResult, ProviderError

UNKNOWN_MESSAGE = "its answer was lost and the provider cannot be asked: booked at the model's price"


def call_open(*, job: GenerationJob, provider: str, model: str, lease: str, expected_usd: Decimal = Decimal(0)) -> CostEntry | None:
    """Open a pending line for a request about to be sent, booked at `expected_usd` until it is
    settled (what the spend budget counts it at), if the run still owns a running job (None
    otherwise: canceled meanwhile, or taken over). One statement: INSERT ... SELECT on the
    job row, so the condition and the line are one round trip, as the plain INSERT was."""
    table, jobs, ops = CostEntry._meta.db_table, GenerationJob._meta.db_table, connection.ops
    now = timezone.now()
    # Only quoted table names and placeholders are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {ops.quote_name(table)} (job_id, provider, model, plan, request_id, outcome, error_kind, error,"  # noqa: S608
        " images, megapixels, cost_usd, expected_usd, latency_ms, created_at)"
        f" SELECT id, %s, %s, plan, '', %s, '', '', 0, 0, 0, %s, 0, %s FROM {ops.quote_name(jobs)}"
        " WHERE id = %s AND lease_token = %s AND status = %s RETURNING id"
    )
    params = [
        provider,
        model,
        CostEntry.Outcome.PENDING,
        ops.adapt_decimalfield_value(expected_usd, 10, 5),
        ops.adapt_datetimefield_value(now),
        GenerationJob._meta.pk.get_db_prep_value(job.pk, connection),
        lease,
        GenerationJob.Status.RUNNING,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return CostEntry(id=row[0], job=job, provider=provider, model=model, plan=job.plan, expected_usd=expected_usd, created_at=now)


def _owned(call: CostEntry, lease: str):
    """The line, while it is open and its job is held by `lease`."""
    return CostEntry.objects.filter(pk=call.pk, outcome=CostEntry.Outcome.PENDING, job__lease_token=lease)


def call_record_request_id(*, call: CostEntry, request_id: str, lease: str) -> bool:
    """The provider's id, saved before any waiting, so that a re-run resumes instead of paying again
    (and noted on `call`). False when the line is no longer this run's to write (taken over)."""
    if not request_id:
        return True
    # One statement; in a transaction (a failing statement would spoil it) within a savepoint.
    with contextlib.suppress(IntegrityError), transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        if _owned(call, lease).filter(request_id="").update(request_id=request_id):
            call.request_id = request_id
            return True
    # Recorded on another row already (kept), or the line is not ours any more.
    return CostEntry.objects.filter(pk=call.pk, job__lease_token=lease).exists()


def call_pending(*, job: GenerationJob, provider: str, model: str) -> CostEntry | None:
    return job.cost_entries.filter(provider=provider, model=model, outcome=CostEntry.Outcome.PENDING).order_by("created_at").first()


def call_settle(
    *,
    call: CostEntry,
    outcome: str,
    lease: str,
    error: ProviderError | None = None,
    result: GenerationResult | None = None,
    cost_usd: float | None = None,
    message: str = "",
) -> bool:
    """Close a line once (two runs settling the same line write one outcome). `cost_usd`: what it
    is booked at when neither the result nor the error says (an unknown outcome)."""
    fields: dict = {"outcome": outcome, "finished_at": timezone.now()}
    fields["latency_ms"] = max(0, int((fields["finished_at"] - call.created_at).total_seconds() * 1000))
    if error is not None:
        fields.update(error_kind=error.kind, error=str(error)[:255])
        if error.request_id and error.request_id != call.request_id:
            fields["request_id"] = error.request_id
        if error.cost_usd:  # billed although nothing came of it
            fields.update(cost_usd=Decimal(str(error.cost_usd)), megapixels=Decimal(str(error.megapixels)).quantize(Decimal("0.001")))
    if message:
        fields["error"] = message[:255]
    if cost_usd is not None:
        fields["cost_usd"] = Decimal(str(cost_usd))
    if result is not None:
        pixels = sum(image.width * image.height for image in result.images)
        fields.update(
            images=len(result.images),
            megapixels=(Decimal(pixels) / Decimal(1_000_000)).quantize(Decimal("0.001")),
            cost_usd=Decimal(str(result.cost_usd)),
        )
        if result.request_id and result.request_id != call.request_id:
            fields["request_id"] = result.request_id
    pending = _owned(call, lease)
    if "request_id" not in fields:  # no unique value written (the row has its id already): nothing can clash
        return bool(pending.update(**fields))
    try:
        with transaction.atomic():
            return bool(pending.update(**fields))
    except IntegrityError:  # the request id is recorded on another row already: keep that one
        fields.pop("request_id")
        return bool(pending.update(**fields))


def call_estimated_cost(*, provider, model: str, size: int, count: int) -> float:
    """What the model would bill for `count` images of `size` px (the adapter's price), for a line
    whose outcome is unknown."""
    cost = getattr(provider, "cost", None)
    return float(cost(model, width=size, height=size, count=count)) if cost is not None else 0.0
