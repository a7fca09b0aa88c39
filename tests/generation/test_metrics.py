"""/metrics: who may read it, and that what it says, parsed by prometheus-client's own parser, equals the
rows: jobs by lane, provider and outcome, the ledger's calls, errors and spend, the breakers, the
queues, and the latency of the request before by its view's name."""

import json
import re
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from generation.breaker import breaker_record_failure
from generation.metrics import job_finished_observe
from generation.models import CostEntry, GenerationJob
from tests.accounts.factories import UserFactory
from tests.generation.factories import CostEntryFactory, GenerationJobFactory

pytestmark = [pytest.mark.fast, pytest.mark.django_db]

TOKEN = "metrics-token-0123456789abcdef"
FAL, REPLICATE = "fal:fal-ai/flux/schnell", "replicate:black-forest-labs/flux-dev"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client | None = None, **headers: str) -> dict[str, dict[tuple, float]]:
    """GET /metrics as the bearer of the token (unless told), parsed: {sample name: {labels: value}}."""
    client = client or Client()
    response = client.get("/metrics", headers=headers or {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get(name, {}).get(tuple(sorted(labels.items())))


# --- who may read it -----------------------------------------------------------------------------


def test_metrics_refuse_anonymous_callers_with_a_json_401():
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong-token", f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}"])
def test_metrics_refuse_a_wrong_bearer_token_with_a_401(header):
    response = Client().get("/metrics", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_metrics_with_no_token_set_refuse_every_bearer(settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 401


def test_metrics_refuse_a_signed_in_user_who_is_not_staff_with_a_403():
    client = Client()
    client.force_login(UserFactory())
    response = client.get("/metrics")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_metrics_are_served_to_staff_signed_in_and_to_the_token(settings):
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert scrape(staff, HTTP_ACCEPT="text/plain")
    assert scrape()
    settings.METRICS_TOKEN = ""  # no token: staff only, still
    assert scrape(staff, HTTP_ACCEPT="text/plain")


# --- what it says --------------------------------------------------------------------------------


def test_job_counts_by_lane_provider_and_outcome_equal_the_rows():
    status = GenerationJob.Status
    GenerationJobFactory.create_batch(3, queue="standard", provider_chain=[FAL, REPLICATE], status=status.SUCCEEDED)
    GenerationJobFactory.create_batch(2, queue="standard", provider_chain=[FAL], status=status.FAILED, error_kind="transient")
    GenerationJobFactory(queue="premium", provider_chain=[REPLICATE], status=status.CANCELED)
    GenerationJobFactory.create_batch(2, queue="premium", provider_chain=[REPLICATE], status=status.QUEUED)
    running = GenerationJobFactory(queue="standard", provider_chain=[FAL], status=status.RUNNING)
    earlier = GenerationJobFactory(queue="standard", provider_chain=[FAL], status=status.SUCCEEDED)
    GenerationJobFactory(queue="standard", provider_chain=[FAL], status=status.SUCCEEDED, reused_from=earlier)

    samples = scrape()
    finished = samples["avatarsite_generation_jobs_total"]
    assert finished == {
        (("lane", "standard"), ("outcome", "succeeded"), ("provider", "fal")): 4.0,
        (("lane", "standard"), ("outcome", "failed"), ("provider", "fal")): 2.0,
        (("lane", "premium"), ("outcome", "canceled"), ("provider", "replicate")): 1.0,
        (("lane", "standard"), ("outcome", "succeeded"), ("provider", "reused")): 1.0,
    }
    assert sum(finished.values()) == GenerationJob.objects.filter(status__in=GenerationJob.TERMINAL_STATUSES).count()
    assert value(samples, "avatarsite_generation_jobs_in_flight", lane="premium", status="queued") == 2
    assert value(samples, "avatarsite_generation_jobs_in_flight", lane="standard", status="running") == 1
    running.status = status.SUCCEEDED
    running.save()
    assert value(scrape(), "avatarsite_generation_jobs_total", lane="standard", provider="fal", outcome="succeeded") == 5


def test_provider_calls_errors_and_spend_equal_the_ledger():
    outcome = CostEntry.Outcome
    CostEntryFactory(provider="fal", plan="free", outcome=outcome.SUCCEEDED, cost_usd=Decimal("0.00300"))
    CostEntryFactory(provider="fal", plan="free", outcome=outcome.SUCCEEDED, cost_usd=Decimal("0.00300"))
    CostEntryFactory(provider="fal", plan="free", outcome=outcome.FAILED, error_kind="transient")
    CostEntryFactory(provider="fal", plan="premium", outcome=outcome.REFUSED, error_kind="refused", cost_usd=Decimal("0.02500"))
    CostEntryFactory(
        provider="replicate", model="black-forest-labs/flux-dev", plan="premium", outcome=outcome.FAILED, error_kind="transient"
    )
    CostEntryFactory(
        provider="replicate", model="black-forest-labs/flux-dev", plan="premium", outcome=outcome.SUCCEEDED, cost_usd=Decimal("0.05")
    )
    CostEntryFactory(provider="replicate", model="black-forest-labs/flux-dev", plan="premium")  # pending

    samples = scrape()
    assert value(samples, "avatarsite_provider_calls_total", provider="fal", model="fal-ai/flux/schnell", outcome="succeeded") == 2
    assert (
        value(samples, "avatarsite_provider_calls_total", provider="replicate", model="black-forest-labs/flux-dev", outcome="failed") == 1
    )
    assert value(samples, "avatarsite_provider_calls_pending", provider="replicate") == 1
    assert samples["avatarsite_provider_errors_total"] == {
        (("kind", "transient"), ("provider", "fal")): 1.0,
        (("kind", "refused"), ("provider", "fal")): 1.0,
        (("kind", "transient"), ("provider", "replicate")): 1.0,
    }
    spend = samples["avatarsite_spend_usd_total"]
    assert spend[(("plan", "free"), ("provider", "fal"))] == pytest.approx(0.006)
    assert spend[(("plan", "premium"), ("provider", "fal"))] == pytest.approx(0.025)
    assert spend[(("plan", "premium"), ("provider", "replicate"))] == pytest.approx(0.05)
    total = sum(CostEntry.objects.values_list("cost_usd", flat=True), Decimal(0))
    assert sum(spend.values()) == pytest.approx(float(total))


def test_breaker_states_show_an_open_breaker(settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "generation.providers.fal.FalProvider", "OPTIONS": {}},
    }
    cache.clear()
    samples = scrape()
    assert value(samples, "avatarsite_provider_breaker_state", provider="fal", state="closed") == 1
    for _ in range(settings.GENERATION_BREAKER_FAILURES):
        breaker_record_failure(provider="fal")
    samples = scrape()
    assert value(samples, "avatarsite_provider_breaker_state", provider="fal", state="open") == 1
    assert value(samples, "avatarsite_provider_breaker_state", provider="fal", state="closed") == 0
    assert value(samples, "avatarsite_metrics_source_up", source="cache") == 1
    cache.clear()


def test_queue_depths_are_read_from_the_broker():
    samples = scrape()
    from avatarsite.celery import QUEUES

    assert {dict(labels)["queue"] for labels in samples["avatarsite_queue_messages"]} == set(QUEUES)
    assert value(samples, "avatarsite_metrics_source_up", source="broker") == 1
    assert value(samples, "avatarsite_metrics_source_up", source="database") == 1


def test_request_latency_is_recorded_by_view_name_not_by_path():
    job = GenerationJobFactory(status=GenerationJob.Status.SUCCEEDED)
    client = Client()
    client.force_login(job.user)
    before = value(scrape(), "avatarsite_http_request_duration_seconds_count", view="generation:job", method="GET", status="2xx")
    assert client.get(reverse("generation:job", args=[job.pk])).status_code == 200
    client.get("/no-such-page/")
    samples = scrape()
    count = value(samples, "avatarsite_http_request_duration_seconds_count", view="generation:job", method="GET", status="2xx")
    assert count == (before or 0) + 1
    assert value(samples, "avatarsite_http_request_duration_seconds_count", view="unresolved", method="GET", status="4xx") >= 1
    views = {dict(labels)["view"] for labels in samples["avatarsite_http_request_duration_seconds_count"]}
    assert not any(str(job.pk) in view or "/" in view for view in views), views


def test_a_job_a_run_finished_is_observed_in_the_duration_histogram_by_lane_provider_and_outcome():
    job = GenerationJobFactory(queue="premium", provider_chain=[REPLICATE, FAL], status=GenerationJob.Status.SUCCEEDED)
    labels = {"lane": "premium", "provider": "replicate", "outcome": "succeeded"}
    before = value(scrape(), "avatarsite_generation_job_duration_seconds_count", **labels) or 0
    job.finished_at = job.created_at + timedelta(seconds=12.5)
    job_finished_observe(job=job)
    job_finished_observe(job=GenerationJobFactory(status=GenerationJob.Status.RUNNING))  # not finished: left alone
    samples = scrape()
    assert value(samples, "avatarsite_generation_job_duration_seconds_count", **labels) == before + 1
    assert value(samples, "avatarsite_generation_job_duration_seconds_bucket", **labels, le="10.0") <= before
    assert value(samples, "avatarsite_generation_job_duration_seconds_bucket", **labels, le="15.0") == before + 1


def test_a_scrape_of_ten_thousand_jobs_stays_cheap():
    user = UserFactory()
    chain = [FAL]
    GenerationJob.objects.bulk_create(
        GenerationJob(user=user, queue=("standard", "premium")[n % 2], provider_chain=chain, status="succeeded") for n in range(10_000)
    )
    jobs = list(GenerationJob.objects.values_list("pk", flat=True)[:10_000])
    CostEntry.objects.bulk_create(
        CostEntry(job_id=pk, provider="fal", model="m", plan="free", outcome="succeeded", cost_usd=Decimal("0.003")) for pk in jobs
    )
    started = time.perf_counter()
    samples = scrape()
    elapsed = time.perf_counter() - started
    assert sum(samples["avatarsite_generation_jobs_total"].values()) == 10_000
    assert value(samples, "avatarsite_spend_usd_total", provider="fal", plan="free") == pytest.approx(30.0)
    print(f"scrape of 10,000 jobs and ledger lines: {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0


def test_every_metric_the_sample_grafana_dashboard_queries_is_served():
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docker" / "grafana" / "avatarsite-dashboard.json").read_text())
    queried = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bavatarsite_[a-z_]+", target["expr"])
    }
    assert len(queried) >= 10
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    served = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert queried <= served, queried - served
