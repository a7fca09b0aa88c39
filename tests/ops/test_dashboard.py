"""The operator's dashboard at /ops/: known ledger, job, subscription, user and counter rows give
exactly their sums on the page and in every CSV; staff only; a bad range is a form error, never a 500;
quota refusals and gallery views and downloads are counted where they happen."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from billing.models import Plan
from gallery.demo import demo_library_load
from gallery.models import Avatar, DailyCount
from generation.idempotency import generation_job_create_idempotent
from generation.models import CostEntry, GenerationJob, QuotaRefusal
from generation.quotas import QuotaExceededError
from generation.services import generation_job_create
from generation.styles import LOCAL_CHAIN
from tests.accounts.factories import UserFactory
from tests.billing.factories import PlanFactory, SubscriptionFactory
from tests.generation.conftest import providers  # noqa: F401 -- the scripted fal and Replicate, for quota refusals
from tests.generation.factories import CostEntryFactory, GenerationJobFactory

pytestmark = pytest.mark.django_db

DAY1, DAY2 = date(2026, 11, 1), date(2026, 11, 2)
BEFORE = date(2026, 10, 31)  # outside the range asked for: must count nowhere
RANGE = {"start": "2026-11-01", "end": "2026-11-03"}
URL = "/ops/"
QUERIES = 20  # the session, the user, a grouped query or two per chart (eleven charts), the budget row and its month's sum
REPLICATE_MODEL = "black-forest-labs/flux-schnell"
CHARTS = (
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


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _job(day: date, **fields) -> GenerationJob:
    job = GenerationJobFactory(**fields)
    GenerationJob.objects.filter(pk=job.pk).update(created_at=_at(day))
    return job


def _cost(day: date, job: GenerationJob | None, **fields) -> CostEntry:
    entry = CostEntryFactory(job=job, **fields)
    CostEntry.objects.filter(pk=entry.pk).update(created_at=_at(day))
    return entry


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.fixture
def known_rows():
    """Two days of jobs and provider calls, and a day before the range."""
    chain = ["fal:fal-ai/flux/schnell"]
    first = _job(DAY1, plan="free", status="succeeded", style="photo", provider_chain=chain, queue="standard")
    second = _job(DAY1, plan="free", status="succeeded", style="photo", provider_chain=chain, queue="standard")
    _job(DAY1, plan="free", status="succeeded", style="photo", provider_chain=chain, reused_from=first, queue="standard")
    failed = _job(DAY1, plan="premium", status="failed", style="photo", provider_chain=chain, queue="premium")
    _job(DAY2, plan="free", status="succeeded", style="pixel", provider_chain=list(LOCAL_CHAIN), queue="standard")
    canceled = _job(DAY2, plan="premium", status="canceled", style="photo", provider_chain=chain, queue="premium")
    old = _job(BEFORE, plan="free", status="succeeded", style="photo", provider_chain=chain)
    _cost(DAY1, first, provider="fal", plan="free", outcome="succeeded", cost_usd=Decimal("0.003"))
    _cost(DAY1, second, provider="fal", plan="free", outcome="succeeded", cost_usd=Decimal("0.003"))
    _cost(DAY1, failed, provider="replicate", model=REPLICATE_MODEL, plan="premium", outcome="succeeded", cost_usd=Decimal("0.005"))
    _cost(DAY2, canceled, provider="fal", plan="premium", outcome="failed", cost_usd=Decimal("0"))
    _cost(DAY2, None, provider="replicate", model=REPLICATE_MODEL, plan="free", outcome="unknown", cost_usd=Decimal("0.01"))
    _cost(BEFORE, old, provider="fal", plan="free", outcome="succeeded", cost_usd=Decimal("1"))


def _csv(client, chart: str) -> list[list[str]]:
    response = client.get(URL, {**RANGE, "format": "csv", "chart": chart})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="ops-{chart}-2026-11-01-2026-11-03.csv"'
    return list(csv.reader(io.StringIO(response.content.decode())))


def _ledger_sum(day: date, **where) -> Decimal:
    since = _at(day, 0)
    rows = CostEntry.objects.filter(created_at__gte=since, created_at__lt=since + timedelta(days=1), **where)
    return rows.aggregate(total=Sum("cost_usd"))["total"] or Decimal(0)


def test_spend_per_day_per_provider_and_per_plan_equals_the_ledger(staff, known_rows):
    by_provider = _csv(staff, "spend-provider")
    by_plan = _csv(staff, "spend-plan")

    assert by_provider == [
        ["Day", "fal", "replicate", "All USD"],
        ["2026-11-01", "0.00600", "0.00500", "0.01100"],
        ["2026-11-02", "0.00000", "0.01000", "0.01000"],
        ["Total", "0.00600", "0.01500", "0.02100"],
    ]
    assert by_plan == [
        ["Day", "free", "premium", "All USD"],
        ["2026-11-01", "0.00600", "0.00500", "0.01100"],
        ["2026-11-02", "0.01000", "0.00000", "0.01000"],
        ["Total", "0.01600", "0.00500", "0.02100"],
    ]
    # The same figures straight from the ledger, cell by cell.
    for row in by_provider[1:3]:
        day = date.fromisoformat(row[0])
        assert [Decimal(row[1]), Decimal(row[2])] == [_ledger_sum(day, provider="fal"), _ledger_sum(day, provider="replicate")]
    for row in by_plan[1:3]:
        day = date.fromisoformat(row[0])
        assert [Decimal(row[1]), Decimal(row[2])] == [_ledger_sum(day, plan="free"), _ledger_sum(day, plan="premium")]


def test_generations_by_plan_and_outcome_and_the_reuse_share_equal_the_job_rows(staff, known_rows):
    assert _csv(staff, "jobs-plan") == [
        ["Day", "free", "premium", "All jobs"],
        ["2026-11-01", "3", "1", "4"],
        ["2026-11-02", "1", "1", "2"],
        ["Total", "4", "2", "6"],
    ]
    assert _csv(staff, "jobs-outcome") == [
        ["Day", "canceled", "failed", "succeeded", "All jobs"],
        ["2026-11-01", "0", "1", "3", "4"],
        ["2026-11-02", "1", "0", "1", "2"],
        ["Total", "1", "1", "4", "6"],
    ]
    assert _csv(staff, "reuse") == [
        ["Day", "instant", "provider", "reused", "All jobs"],
        ["2026-11-01", "0", "3", "1", "4"],
        ["2026-11-02", "1", "1", "0", "2"],
        ["Total", "1", "4", "1", "6"],
    ]
    assert _csv(staff, "styles") == [["Style", "Label", "Jobs"], ["photo", "AI photo", "5"], ["pixel", "Pixel art", "1"]]

    html = staff.get(URL, RANGE).content.decode()
    # 1 of 6 jobs reused; 2 of 6 (the reused one and the instant one) made no paid call.
    assert "16.7 % answered without a provider call (reused); 33.3 % without a paid call" in html
    assert "Spent in the range: $0.02100" in html


def test_the_page_shows_every_chart_with_its_table_and_csv_link(staff, known_rows):
    response = staff.get(URL, RANGE)
    html = response.content.decode()

    assert response.status_code == 200
    for name in CHARTS:
        assert f'id="chart-{name}"' in html
        assert f'data-table="{name}"' in html
        assert f"format=csv&amp;chart={name}" in html
    assert html.count('role="img"') == 11
    assert html.count("<title>") == 12  # the page's own, and one per chart
    # The table under the spend chart, exactly as the CSV says.
    assert '<th scope="row">Total</th><td>0.00600</td><td>0.01500</td><td>0.02100</td>' in html
    assert "{% block ops_banner %}" not in html


def test_health_and_lanes_read_the_ledger_and_the_jobs(staff, known_rows):
    health = _csv(staff, "health")
    assert health[0] == ["Provider", "Model", "Calls", "Succeeded", "Success rate", "p50 ms", "p95 ms", "Breaker", "Last error"]
    rows = {(row[0], row[1]): row for row in health[1:]}
    # fal: two succeeded and one failed in the range (the call before it is left out): 2/3.
    assert rows["fal", "fal-ai/flux/schnell"][2:5] == ["3", "2", "0.667"]
    assert rows["replicate", REPLICATE_MODEL][2:5] == ["2", "1", "0.5"]

    GenerationJob.objects.filter(plan="premium", status="failed").update(started_at=_at(DAY1) + timedelta(seconds=4))
    GenerationJob.objects.filter(plan="free", reused_from=None, style="photo", created_at__date=DAY1).update(
        started_at=_at(DAY1) + timedelta(seconds=2)
    )
    _job(DAY2, plan="free", status="queued", queue="standard")  # waiting now
    lanes = {row[1]: row for row in _csv(staff, "lanes")[1:]}
    assert lanes["standard"][2:8] == ["1", "0", "2", "2", "2", "2"]  # waiting, running, started, p50 s, p95 s, mean s
    assert lanes["premium"][2:8] == ["0", "0", "1", "4", "4", "4"]


def test_signups_and_conversions_to_paid_by_day(staff):
    premium = Plan.objects.get(slug="premium")
    free = Plan.objects.get(slug="free")
    enterprise = PlanFactory(slug="enterprise-test", price_usd_per_month=0, contracted=True)
    users = [UserFactory() for _ in range(4)]
    for user, day in zip(users, (DAY1, DAY1, DAY2, BEFORE), strict=True):
        type(user).objects.filter(pk=user.pk).update(date_joined=_at(day))
    for user, plan, day in ((users[0], premium, DAY1), (users[1], free, DAY1), (users[2], enterprise, DAY2), (users[3], premium, BEFORE)):
        subscription = SubscriptionFactory(user=user, plan=plan)
        type(subscription).objects.filter(pk=subscription.pk).update(created_at=_at(day))

    assert _csv(staff, "signups") == [
        ["Day", "paid: enterprise-test", "paid: premium", "signups"],
        ["2026-11-01", "0", "1", "2"],
        ["2026-11-02", "1", "0", "1"],
        ["Total", "1", "1", "3"],
    ]
    assert "Sign-ups: 3; conversions to a paid plan: 2" in staff.get(URL, RANGE).content.decode()


def test_a_quota_refusal_is_counted_by_day_and_plan_even_through_the_api_s_idempotent_path(staff, providers):  # noqa: F811
    owner = UserFactory()
    for n in range(5):
        generation_job_create(user_id=owner.pk, prompt=f"a sailor {n}")
    with pytest.raises(QuotaExceededError):
        generation_job_create(user_id=owner.pk, prompt="a sailor 6")
    with pytest.raises(QuotaExceededError):
        generation_job_create_idempotent(user_id=owner.pk, key="k-1", payload={"prompt": "a sailor 7"})

    today = GenerationJob.objects.filter(user=owner).first().created_at.date()
    assert list(QuotaRefusal.objects.values_list("day", "plan", "count")) == [(today, "free", 2)]  # once each, not twice
    QuotaRefusal.objects.create(day=DAY1, plan="premium", count=3)
    QuotaRefusal.objects.create(day=BEFORE, plan="premium", count=9)
    assert _csv(staff, "refusals") == [["Day", "premium", "All refusals"], ["2026-11-01", "3", "3"], ["Total", "3", "3"]]


def test_gallery_views_and_downloads_are_counted_per_day(staff):
    demo_library_load(count=1, size=128)
    avatar = Avatar.objects.get()
    rendition = avatar.renditions[0]
    for _ in range(3):
        assert staff.get(reverse("gallery:detail", args=[avatar.pk])).status_code == 200
    assert staff.get(reverse("gallery:download", args=[avatar.pk, rendition.size, rendition.format])).status_code in (200, 302)
    assert staff.head(reverse("gallery:download", args=[avatar.pk, rendition.size, rendition.format])).status_code in (200, 302)

    today = DailyCount.objects.first().day
    assert sorted(DailyCount.objects.values_list("kind", "count")) == [("download", 1), ("view", 3)]  # a HEAD is not a download
    DailyCount.objects.create(day=DAY1, kind="view", count=7)
    assert _csv(staff, "gallery") == [["Day", "view", "All views and downloads"], ["2026-11-01", "7", "7"], ["Total", "7", "7"]]
    rows = staff.get(URL, {"start": today.isoformat(), "end": today.isoformat(), "format": "csv", "chart": "gallery"}).content.decode()
    assert rows.splitlines()[1] == f"{today.isoformat()},1,3,4"


def test_the_dashboard_is_for_staff_only(client):
    signed_out = client.get(URL)
    client.force_login(UserFactory())
    member = client.get(URL)
    member_csv = client.get(URL, {"format": "csv", "chart": "spend-provider"})

    for response in (signed_out, member, member_csv):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-11-05", "end": "2026-11-01"}, "The first day comes after the last."),
        ({"start": "not-a-date", "end": "2026-11-01"}, "Enter a valid date."),
        ({"start": "2026-11-01"}, "This field is required."),
        ({"start": "2020-01-01", "end": "2026-11-01"}, "A range of at most 366 days, please."),
        ({"start": "2026-13-45", "end": "2026-11-01", "format": "csv", "chart": "spend-plan"}, "Enter a valid date."),
    ],
)
def test_a_bad_range_is_a_form_error_not_a_500(staff, query, message):
    response = staff.get(URL, query)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'role="img"' not in response.content.decode()


def test_an_unknown_chart_s_csv_is_a_404(staff):
    assert staff.get(URL, {**RANGE, "format": "csv", "chart": "nope"}).status_code == 404


def test_the_default_range_is_the_last_30_days(staff):
    today = timezone.now().date()
    html = staff.get(URL).content.decode()

    assert f'type="date" name="start" value="{(today - timedelta(days=29)).isoformat()}"' in html
    assert f'type="date" name="end" value="{today.isoformat()}"' in html
    assert html.count('role="img"') == 11


def test_the_admin_index_links_to_the_dashboard(staff):
    html = staff.get("/admin/").content.decode()
    assert '<a href="/ops/">Operator\'s dashboard</a>' in html


def test_the_page_s_queries_do_not_grow_with_the_rows(staff, known_rows, django_assert_max_num_queries):
    """Grouped queries per chart: as many for a busy range as for a quiet one."""
    staff.get(URL, RANGE)  # the session and the user, read once
    with django_assert_max_num_queries(QUERIES) as few:
        staff.get(URL, RANGE)
    for day in (DAY1, DAY2):
        for _ in range(5):
            job = _job(day, plan="free", status="succeeded", provider_chain=["fal:fal-ai/flux/schnell"], queue="standard")
            _cost(day, job, provider="fal", plan="free", outcome="succeeded", cost_usd=Decimal("0.001"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff.get(URL, RANGE)


def test_the_budget_banner_says_how_much_of_the_month_is_spent(staff):
    """No banner below 50 % or without a budget; at 85 % the warning with the month's figures, and the hard stop past 100 %."""
    from generation.models import SpendBudget

    url = reverse("ops:dashboard")
    assert "ops-budget" not in staff.get(url).content.decode()
    SpendBudget.objects.update_or_create(pk=1, defaults={"monthly_usd": Decimal("10.00"), "hard_stop_free": True})
    CostEntry.objects.create(provider="fal", model="fal-ai/flux/schnell", outcome="succeeded", cost_usd=Decimal("8.50"))

    page = staff.get(url).content.decode()
    assert "ops-budget-warning" in page
    assert "Spend budget: 80 % reached." in page
    assert "$8.50 of $10.00 committed (85%)" in page

    CostEntry.objects.create(provider="fal", model="fal-ai/flux/schnell", outcome="succeeded", cost_usd=Decimal("2.00"))
    page = staff.get(url).content.decode()
    assert "ops-budget-danger" in page
    assert "Hard stop: free users get the local generator." in page
