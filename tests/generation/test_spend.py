"""Provider spend from the cost ledger: the per-day/provider/plan and per-provider sums, the
`generation_spend` command's report, and the spend line of the ledger's admin list."""

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from avatarsite.accounts.services import user_create
from generation.models import CostEntry
from generation.spend import SpendLine, spend_by_day, spend_totals
from tests.generation.factories import CostEntryFactory, GenerationJobFactory

pytestmark = pytest.mark.fast

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = datetime(2026, 3, 15, tzinfo=UTC)
YESTERDAY = TODAY - timedelta(days=1)
MODELS = {"fal": "fal-ai/flux/schnell", "replicate": "black-forest-labs/flux-dev"}


@dataclass(frozen=True)
class Call:
    at: datetime
    provider: str
    plan: str
    outcome: str
    images: int = 0
    megapixels: str = "0"
    cost: str = "0"
    latency_ms: int = 0
    error_kind: str = ""


# Two days (and one older line), two providers, two plans; failures and refusals that were billed
# count, those that were not add a call and nothing else.
LEDGER = [
    # 2026-03-14
    Call(YESTERDAY + timedelta(hours=9), "fal", "free", "succeeded", 1, "1.049", "0.00300", 2100),
    Call(YESTERDAY + timedelta(hours=10), "fal", "free", "failed", 0, "0", "0", 30000, "transient"),
    Call(YESTERDAY + timedelta(hours=11), "fal", "premium", "succeeded", 2, "2.097", "0.05000", 5200),
    Call(YESTERDAY + timedelta(hours=12), "replicate", "premium", "succeeded", 1, "1.049", "0.02500", 7000),
    # The last instant of the day: still the 14th.
    Call(TODAY - timedelta(microseconds=1), "replicate", "free", "refused", 0, "1.049", "0.00300", 4000, "refused"),
    # 2026-03-15; its first instant is the 15th.
    Call(TODAY, "fal", "free", "succeeded", 1, "1.049", "0.00300", 1900),
    Call(TODAY + timedelta(hours=1), "fal", "free", "failed", 1, "1.049", "0.00300", 2500, "permanent"),  # an unusable image, paid
    Call(TODAY + timedelta(hours=2), "fal", "free", "pending"),  # a call still open
    Call(TODAY + timedelta(hours=3), "replicate", "premium", "succeeded", 2, "2.097", "0.10000", 6500),
    Call(TODAY + timedelta(hours=4), "replicate", "premium", "canceled", 0, "0", "0", 1200, "canceled"),
    Call(TODAY + timedelta(hours=5), "fal", "premium", "refused", 0, "1.049", "0.02500", 3000, "refused"),
    # Eight days back, outside the command's default week; a job from before plans were recorded.
    Call(TODAY - timedelta(days=8) + timedelta(hours=6), "fal", "", "succeeded", 1, "1.049", "0.00300", 2000),
]


@pytest.fixture
def ledger(db, time_machine):
    time_machine.move_to(NOW)
    owner = user_create(username="ada", email="ada@example.com", password="a-long-password-1")
    for n, call in enumerate(LEDGER):
        job = GenerationJobFactory(user=owner, prompt=f"portrait {n}", plan=call.plan, status="succeeded")
        entry = CostEntryFactory(
            job=job,  # its plan is the job's
            provider=call.provider,
            model=MODELS[call.provider],
            request_id=f"{call.provider}-request-{n}",
            outcome=call.outcome,
            error_kind=call.error_kind,
            images=call.images,
            megapixels=Decimal(call.megapixels),
            cost_usd=Decimal(call.cost),
            latency_ms=call.latency_ms,
        )
        # created_at is set on insert: put the call on its day afterwards.
        CostEntry.objects.filter(pk=entry.pk).update(created_at=call.at, finished_at=call.at + timedelta(milliseconds=call.latency_ms))
    return owner


def _lines(lines: list[SpendLine]) -> list[tuple]:
    return [(line.day and f"{line.day:%Y-%m-%d}", line.provider, line.plan, line.calls, line.images, line.cost_usd) for line in lines]


def test_spend_by_day_sums_calls_images_and_dollars_per_utc_day_provider_and_plan(ledger):
    lines = spend_by_day(since=YESTERDAY)

    assert _lines(lines) == [
        ("2026-03-14", "fal", "free", 2, 1, Decimal("0.00300")),
        ("2026-03-14", "fal", "premium", 1, 2, Decimal("0.05000")),
        ("2026-03-14", "replicate", "free", 1, 0, Decimal("0.00300")),  # refused, but billed
        ("2026-03-14", "replicate", "premium", 1, 1, Decimal("0.02500")),
        ("2026-03-15", "fal", "free", 3, 2, Decimal("0.00600")),  # with the paid unusable image and the open call
        ("2026-03-15", "fal", "premium", 1, 0, Decimal("0.02500")),
        ("2026-03-15", "replicate", "premium", 2, 2, Decimal("0.10000")),
    ]
    # Per plan across both days.
    per_plan: dict[str, Decimal] = {}
    for line in lines:
        per_plan[line.plan] = per_plan.get(line.plan, Decimal(0)) + line.cost_usd
    assert per_plan == {"free": Decimal("0.01200"), "premium": Decimal("0.20000")}


def test_spend_by_day_leaves_out_what_is_outside_since_and_until(ledger):
    only_the_14th = spend_by_day(since=YESTERDAY, until=TODAY)
    with_the_old_line = spend_by_day(since=TODAY - timedelta(days=8))

    assert {f"{line.day:%Y-%m-%d}" for line in only_the_14th} == {"2026-03-14"}
    assert sum(line.calls for line in only_the_14th) == 5
    assert sum(line.cost_usd for line in only_the_14th) == Decimal("0.08100")
    assert _lines(with_the_old_line)[0] == ("2026-03-07", "fal", "", 1, 1, Decimal("0.00300"))
    assert len(with_the_old_line) == 8


def test_spend_totals_sum_the_whole_ledger_or_part_of_it_per_provider_most_spent_first(ledger):
    assert _lines(spend_totals()) == [
        (None, "replicate", "", 4, 3, Decimal("0.12800")),
        (None, "fal", "", 8, 6, Decimal("0.08700")),
    ]
    premium = CostEntry.objects.filter(plan="premium")
    assert _lines(spend_totals(queryset=premium)) == [
        (None, "replicate", "", 3, 3, Decimal("0.12500")),
        (None, "fal", "", 2, 2, Decimal("0.07500")),
    ]
    # An ordered queryset (as the admin passes) still gives one line per provider.
    assert len(spend_totals(queryset=CostEntry.objects.order_by("-latency_ms", "id"))) == 2


def _report(**options) -> list[list[str]]:
    out = io.StringIO()
    call_command("generation_spend", stdout=out, **options)
    return [line.split() for line in out.getvalue().splitlines()]


def test_the_spend_command_prints_the_last_weeks_lines_and_their_total(ledger):
    header, *rows, total = _report()

    assert header == ["day", "provider", "plan", "calls", "images", "cost", "(USD)"]
    assert rows == [
        ["2026-03-14", "fal", "free", "2", "1", "0.0030"],
        ["2026-03-14", "fal", "premium", "1", "2", "0.0500"],
        ["2026-03-14", "replicate", "free", "1", "0", "0.0030"],
        ["2026-03-14", "replicate", "premium", "1", "1", "0.0250"],
        ["2026-03-15", "fal", "free", "3", "2", "0.0060"],
        ["2026-03-15", "fal", "premium", "1", "0", "0.0250"],
        ["2026-03-15", "replicate", "premium", "2", "2", "0.1000"],
    ]
    assert " ".join(total) == "total since 2026-03-09: $0.2120 over 11 calls"


def test_the_spend_command_reaches_back_as_many_days_as_asked(ledger):
    _, *rows, total = _report(days=9)
    assert rows[0] == ["2026-03-07", "fal", "-", "1", "1", "0.0030"]  # no plan recorded: a dash
    assert " ".join(total) == "total since 2026-03-07: $0.2150 over 12 calls"

    _, *rows, total = _report(days=1)
    assert {row[0] for row in rows} == {"2026-03-15"}
    assert " ".join(total) == "total since 2026-03-15: $0.1310 over 6 calls"


def test_the_ledger_admin_tells_staff_the_spend_of_what_is_filtered(ledger, client, django_user_model):
    operator = django_user_model.objects.create_superuser("operator", "ops@example.com", "pw-123456789")
    client.force_login(operator)
    url = reverse("admin:generation_costentry_changelist")

    everything = client.get(url)
    premium = client.get(url, {"plan__exact": "premium"})
    fal_today = client.get(url, {"provider__exact": "fal", "created_at__year": 2026, "created_at__month": 3, "created_at__day": 15})

    assert everything.status_code == premium.status_code == fal_today.status_code == 200
    assert "Spend shown: replicate: $0.1280 over 4 calls (3 images); fal: $0.0870 over 8 calls (6 images)" in everything.content.decode()
    assert "Spend shown: replicate: $0.1250 over 3 calls (3 images); fal: $0.0750 over 2 calls (2 images)" in premium.content.decode()
    assert "Spend shown: fal: $0.0310 over 4 calls (2 images)" in fal_today.content.decode()


def test_the_ledger_admin_is_for_staff_only(ledger, client):
    client.force_login(ledger)  # a customer
    response = client.get(reverse("admin:generation_costentry_changelist"))
    assert response.status_code == 302
    assert "Spend shown" not in response.content.decode()
