"""The monthly spend budget (issue 20, point 2): one alert mail per threshold per month, the hard
stop (free users to the local generator, told why; premium goes on unless stopped too), the
per-user daily cap, and 50 concurrent jobs against a nearly spent budget.

The real fal adapter against FakeFal (fal-ai/flux/schnell bills $0.003 per started megapixel, so
each 256 px call costs exactly $0.003), PostgreSQL and the locmem mail backend; jobs are run by
`generation_job_run`, in-process or on threads each with its own database connection.
"""

import contextlib
import shutil
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from avatarsite.accounts.services import user_create
from billing.models import Plan, Subscription
from generation.budget import (
    BUDGET_SPENT_MESSAGE,
    BUDGET_SPENT_RUN_MESSAGE,
    USER_CAP_MESSAGE,
    USER_CAP_ROUTED_MESSAGE,
    budget_status,
    committed_usd,
    month_start,
)
from generation.models import CostEntry, GenerationJob, SpendAlert, SpendBudget
from generation.services import generation_job_create, generation_job_run
from generation.styles import LOCAL_CHAIN, LOCAL_STYLES
from tests.fakes.fal import FakeFal
from tests.generation.conftest import providers_point_at
from tests.generation.factories import CostEntryFactory
from tests.support.processes import running
from tests.support.workers import log_tail, wait_for, worker_args, worker_env

PASSWORD = "a-long-password-1"
PRICE = Decimal("0.003")  # one fal schnell call of one 256 px image
OPS = "ops@example.com"


def _budget(**fields) -> SpendBudget:
    """The one budget row as the operator sets it (a transactional test's flush removes the migration's)."""
    defaults = {"monthly_usd": Decimal(0), "hard_stop_free": True, "hard_stop_paid": False, "user_daily_usd": None, "alert_emails": OPS}
    budget, _ = SpendBudget.objects.update_or_create(pk=1, defaults={**defaults, **fields})
    return budget


def _spent(amount: str, *, when=None) -> CostEntry:
    """Spend already on the books: a settled line of someone else's job."""
    entry = CostEntryFactory(outcome=CostEntry.Outcome.SUCCEEDED, cost_usd=Decimal(amount))
    if when is not None:
        CostEntry.objects.filter(pk=entry.pk).update(created_at=when)
    return entry


def _user(name: str, *, plan: str = "free"):
    user = user_create(username=name, email=f"{name}@example.com", password=PASSWORD)
    if plan != "free":
        Subscription.objects.create(user=user, plan=Plan.objects.get(slug=plan))
    return user


def _job(user, n: int) -> GenerationJob:
    return generation_job_create(user_id=user.pk, prompt=f"A portrait of a lighthouse keeper number {n}", size=256, seed=n)


def _alerts() -> list[tuple[str, list[str]]]:
    return [(message.subject, message.to) for message in mail.outbox]


@pytest.fixture
def fal(settings):
    """The fake fal, with the real fal (and Replicate) adapters pointed at it."""
    from tests.fakes.replicate import FakeReplicate
    from tests.generation.conftest import Fakes

    fakes = Fakes(FakeFal(latency=0.3).start(), FakeReplicate(latency=0.1).start())
    providers_point_at(settings, fakes)
    settings.GENERATION_PROVIDER_BACKOFF_SECONDS = 0.01
    yield fakes.fal
    fakes.fal.stop()
    fakes.replicate.stop()


@pytest.mark.django_db
def test_each_threshold_sends_exactly_one_mail_a_month_and_a_new_month_alerts_again(fal, django_capture_on_commit_callbacks):
    """A $0.01 budget, no hard stop: calls at $0.003 bring the month to 30, 60 (50 % mail), 90 (80 %
    mail), 120 % (100 % mail) and 150 % (no mail: each threshold once). The month after, 60 % mails 50 % again."""
    _budget(monthly_usd=Decimal("0.01"), hard_stop_free=False)
    ada = _user("ada")
    with django_capture_on_commit_callbacks(execute=True):  # the test's transaction never commits: its callbacks run here
        for n in range(5):
            assert generation_job_run(job_id=str(_job(ada, n).pk)).status == "succeeded"
    assert fal.submissions == 5
    subjects = [subject for subject, _ in _alerts()]
    assert len(subjects) == 3, subjects
    assert [s.split(" of the ")[0] for s in subjects] == [
        "[avatarsite] Spend at 50 %",
        "[avatarsite] Spend at 80 %",
        "[avatarsite] Spend at 100 %",
    ]
    assert all(to == [OPS] for _, to in _alerts())
    assert "$0.01" in mail.outbox[-1].body
    assert "premium and enterprise users go on" in mail.outbox[-1].body
    month = month_start(timezone.now()).date()
    assert list(SpendAlert.objects.filter(month=month).values_list("threshold", flat=True).order_by("threshold")) == [50, 80, 100]
    status = budget_status()
    assert (status.committed_usd, status.thresholds_crossed, status.level) == (Decimal("0.015"), (50, 80, 100), "danger")

    # A month later (the books and the alerts moved back a month): the thresholds alert again.
    CostEntry.objects.update(created_at=timezone.now() - timedelta(days=40))
    last_month = month_start(timezone.now() - timedelta(days=40)).date()
    SpendAlert.objects.update(month=last_month)
    bob = _user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(2):
            assert generation_job_run(job_id=str(_job(bob, 100 + n).pk)).status == "succeeded"
    assert len(mail.outbox) == 4
    assert mail.outbox[-1].subject.startswith("[avatarsite] Spend at 50 %")
    assert SpendAlert.objects.filter(month=month).count() == 1


@pytest.mark.django_db
def test_the_hard_stop_gives_free_users_the_local_generator_told_why_and_lets_premium_through(fal):
    """The month's $0.01 spent: a free user's AI request is drawn by the local generator (no quota,
    no provider call, the reason on the job before and after it ran); a premium user's goes to the
    providers and is billed. With the paying plans stopped too, premium gets the local generator."""
    _budget(monthly_usd=Decimal("0.01"))
    _spent("0.01")
    free, premium = _user("ada"), _user("bob", plan="premium")

    job = _job(free, 1)
    assert (job.style, tuple(job.provider_chain), job.quota_units) == (LOCAL_STYLES[0], LOCAL_CHAIN, 0)
    assert job.message == job.notice == BUDGET_SPENT_MESSAGE
    done = generation_job_run(job_id=str(job.pk))
    assert done.status == "succeeded"
    assert done.message == f"Done. {BUDGET_SPENT_MESSAGE}"
    assert list(done.images.values_list("provider", flat=True)) == ["local"]
    assert fal.submissions == 0

    paid = _job(premium, 2)
    assert paid.style == "photo"
    assert paid.provider_chain[0] != LOCAL_CHAIN[0]
    assert paid.notice == ""
    done = generation_job_run(job_id=str(paid.pk))
    assert done.status == "succeeded"
    assert done.images.get().provider in ("replicate", "fal")
    assert CostEntry.objects.filter(job=paid, outcome="succeeded", cost_usd__gt=0).count() == 1

    _budget(monthly_usd=Decimal("0.01"), hard_stop_paid=True)
    stopped = _job(premium, 3)
    assert (tuple(stopped.provider_chain), stopped.notice) == (LOCAL_CHAIN, BUDGET_SPENT_MESSAGE)


@pytest.mark.django_db
def test_a_free_job_accepted_before_the_budget_ran_out_is_refused_its_paid_calls_with_the_reason_and_its_quota_back(fal):
    """At run time the check is made again before each paid call: the job ends at once, failed with
    the budget's reason, its quota returned, nothing sent to a provider, no ledger line."""
    _budget(monthly_usd=Decimal("0.01"))
    ada = _user("ada")
    job = _job(ada, 1)
    assert (job.style, job.quota_units) == ("photo", 1)
    _spent("0.01")
    done = generation_job_run(job_id=str(job.pk))
    assert (done.status, done.message, done.error_kind, done.quota_refunded) == ("failed", BUDGET_SPENT_RUN_MESSAGE, "permanent", True)
    assert fal.submissions == 0
    assert not CostEntry.objects.filter(job=job).exists()


@pytest.mark.django_db
def test_the_per_user_daily_cap_refuses_paid_calls_past_it_and_routes_new_requests_to_the_local_generator(fal):
    """A $0.01 daily cap: the user's calls at $0.003 go through until today's spend reaches it (the 4th
    crosses it); the 5th job, accepted before, is refused at its paid call (quota back); the next
    request is drawn locally, told why. Another user is not capped."""
    _budget(user_daily_usd=Decimal("0.01"))
    ada, bob = _user("ada"), _user("bob")
    jobs = [_job(ada, n) for n in range(5)]
    assert all(job.style == "photo" for job in jobs)
    for job in jobs[:4]:
        assert generation_job_run(job_id=str(job.pk)).status == "succeeded"
    done = generation_job_run(job_id=str(jobs[4].pk))
    assert (done.status, done.message, done.quota_refunded) == ("failed", USER_CAP_MESSAGE, True)
    assert fal.submissions == 4
    later = _job(ada, 5)
    assert (tuple(later.provider_chain), later.notice, later.quota_units) == (LOCAL_CHAIN, USER_CAP_ROUTED_MESSAGE, 0)
    assert generation_job_run(job_id=str(_job(bob, 6).pk)).status == "succeeded"
    assert fal.submissions == 5


@pytest.mark.django_db
def test_budget_status_counts_pending_calls_at_their_expected_price_and_no_budget_means_no_share():
    _budget(monthly_usd=Decimal("1.00"))
    CostEntryFactory(outcome=CostEntry.Outcome.PENDING, expected_usd=Decimal("0.25"))
    CostEntryFactory(outcome=CostEntry.Outcome.FAILED, cost_usd=Decimal("0.30"), expected_usd=Decimal("0.50"))
    _spent("0.05", when=timezone.now() - timedelta(days=40))  # last month's
    status = budget_status()
    assert (status.committed_usd, status.share, status.thresholds_crossed, status.level) == (Decimal("0.55"), 0.55, (50,), "notice")
    _budget(monthly_usd=Decimal(0))
    assert (budget_status().share, budget_status().thresholds_crossed, budget_status().over) == (None, (), False)


CONCURRENT_JOBS = 50
WORKERS, THREADS = 2, 25  # two worker processes of 25 threads: all 50 jobs run at once


def _most_at_once(calls: list[CostEntry]) -> int:
    """The most ledger lines that were open (opened, not yet settled) at the same moment."""
    edges = sorted([(call.created_at, 1) for call in calls] + [(call.finished_at, -1) for call in calls])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_jobs_against_a_nearly_spent_budget_overrun_it_by_less_than_one_call(fal, broker, artifacts_dir):
    """$0.15 budget with $0.1015 already spent ($0.0485 left: 16 calls and a sixth of one), hard stop
    for free users. 50 free jobs are queued, then two real worker processes of 25 threads each
    (each thread its own database connection) run them all at once. Exactly 17 paid calls are made
    (the 17th crosses the budget), so the month ends at $0.1525: over by $0.0025, less than one call
    ($0.003) in all, so at most one call per job; unchecked, 50 calls would end at $0.2515. The other
    33 jobs end failed with the budget's reason and their quota back, having sent nothing; the
    50/80/100 % alerts, crossed by concurrent jobs, mail exactly once each."""
    _budget(monthly_usd=Decimal("0.15"))
    _spent("0.1015")
    users = [_user(f"spender{n}") for n in range(CONCURRENT_JOBS // 5)]  # the free plan's 5 a day each
    jobs = [_job(users[n % len(users)], n) for n in range(CONCURRENT_JOBS)]  # queued on the broker as they commit
    assert all(job.style == "photo" and job.quota_units == 1 for job in jobs)
    ids = [job.pk for job in jobs]

    # Each pool thread gets its own connection (no shared pool of 4 to queue on); the mails go to a
    # file per process, read back below.
    mails = artifacts_dir / "budget-mails"
    shutil.rmtree(mails, ignore_errors=True)
    env = worker_env(fal=fal, DATABASE_POOL="false", DJANGO_EMAIL_FILE_PATH=str(mails))
    logs = [artifacts_dir / f"budget-worker-{n}.log" for n in range(WORKERS)]
    with contextlib.ExitStack() as stack:
        for n in range(WORKERS):
            args = [*worker_args("standard", name=f"budget{n}", concurrency=THREADS), "-P", "threads"]
            stack.enter_context(running(args, env=env, log=logs[n]))
        wait_for(
            lambda: GenerationJob.objects.filter(pk__in=ids, status__in=GenerationJob.TERMINAL_STATUSES).count() == CONCURRENT_JOBS,
            timeout=180,
            what="the 50 jobs to end",
        )

    outcomes = dict.fromkeys(("succeeded", "failed"), 0)
    for job in GenerationJob.objects.filter(pk__in=ids):
        outcomes[job.status] += 1
        if job.status == "failed":
            assert (job.message, job.quota_refunded) == (BUDGET_SPENT_RUN_MESSAGE, True), log_tail(*logs)
    assert outcomes == {"succeeded": 17, "failed": 33}, (
        outcomes,
        committed_usd(since=month_start(timezone.now())),
        SpendAlert.objects.count(),
        log_tail(*logs)[:300],
    )
    assert fal.submissions == 17
    paid = list(CostEntry.objects.filter(job__in=ids))
    assert len(paid) == 17
    assert all(call.outcome == "succeeded" and call.cost_usd == PRICE for call in paid)
    assert _most_at_once(paid) >= 10, "the paid calls did not overlap: the jobs did not run at once"
    spent = committed_usd(since=month_start(timezone.now()))
    assert spent == Decimal("0.1525")
    assert Decimal("0.15") < spent < Decimal("0.15") + PRICE  # over by less than one call in all
    assert sorted(SpendAlert.objects.values_list("threshold", flat=True)) == [50, 80, 100]
    sent = [path.read_text() for path in sorted(mails.glob("*.log"))] if mails.exists() else []
    subjects = [line for text in sent for line in text.splitlines() if line.startswith("Subject: ")]
    assert sorted(subjects) == sorted(f"Subject: [avatarsite] Spend at {t} % of the {timezone.now():%B} budget" for t in (50, 80, 100))
    assert budget_status().stopping_free
    assert not budget_status().stopping_paid


@pytest.mark.django_db
def test_the_admin_shows_the_months_standing_on_the_budget_page_and_above_the_ledger(admin_client):
    """The operator edits the one budget row (it cannot be deleted) and sees the month's standing there
    and above the ledger; the alerts sent are listed."""
    _budget(monthly_usd=Decimal("1.00"))
    _spent("0.85")
    page = admin_client.get("/admin/generation/spendbudget/1/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "$0.85 of $1.00 committed (85%)" in text
    assert "Thresholds crossed: 50 %, 80 %." in text
    ledger = admin_client.get("/admin/generation/costentry/")
    assert "Budget: " in ledger.content.decode()
    assert "$0.85 of $1.00 committed" in ledger.content.decode()
    saved = admin_client.post(
        "/admin/generation/spendbudget/1/change/",
        {"monthly_usd": "2.00", "hard_stop_free": "on", "user_daily_usd": "", "alert_emails": OPS},
    )
    assert saved.status_code == 302
    assert SpendBudget.objects.get().monthly_usd == Decimal("2.00")
    assert admin_client.post("/admin/generation/spendbudget/1/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/generation/spendalert/").status_code == 200


@pytest.mark.django_db
def test_a_threshold_crossed_without_a_checked_call_is_alerted_by_the_beat_task_once(settings, django_capture_on_commit_callbacks):
    """A call billed above its expected price, or an operator's "try it", moves the month past a
    threshold with no paid call checked: the periodic task (on the beat schedule) mails it, once."""
    from generation.tasks import budget_alerts_check

    assert settings.CELERY_BEAT_SCHEDULE["generation-budget-alerts"]["task"] == "generation.tasks.budget_alerts_check"
    settings.GENERATION_BUDGET_ALERT_EMAILS = ["fallback@example.com"]
    _budget(monthly_usd=Decimal("1.00"), alert_emails="")
    _spent("0.81")
    with django_capture_on_commit_callbacks(execute=True):
        assert budget_alerts_check() == [50, 80]
        assert budget_alerts_check() == []
    assert [(message.subject.split(" of the ")[0], message.to) for message in mail.outbox] == [
        ("[avatarsite] Spend at 50 %", ["fallback@example.com"]),
        ("[avatarsite] Spend at 80 %", ["fallback@example.com"]),
    ]
