"""The fault suite: each case drives about ten jobs through the REST API on the
real stack (tests/faults/stack.py), injects its fault from outside and checks the books
(tests/faults/books.py). A failure prints what broke, with the case's log lines; every process's
whole log is in test-artifacts/faults/, and each case's result is appended to results.jsonl there.

One case: `.venv/bin/python -m pytest -q tests/faults -k redis_restart -p no:cacheprovider`.
"""

import pytest

from tests.faults.cases import run_case


@pytest.fixture
def faults_results(artifacts_dir):
    return artifacts_dir / "faults" / "results.jsonl"


def _check(faults, name: str, results) -> None:
    result = run_case(faults, name, results=results)
    assert result.ok, result.report()


def test_pool_children_killed_mid_job_resume_their_requests_and_pay_once(faults, faults_results):
    _check(faults, "worker-sigkill", faults_results)


def test_a_redis_restart_mid_run_leaves_every_job_finished_promptly_and_paid_once(faults, faults_results):
    _check(faults, "redis-restart", faults_results)


def test_postgresql_down_3_s_loses_no_job_and_leaves_none_running(faults, faults_results):
    _check(faults, "postgres-down-3s", faults_results)


def test_postgresql_down_35_s_loses_no_queued_job(faults, faults_results):
    _check(faults, "postgres-down-35s", faults_results)


def test_storage_down_20_s_during_stores_ends_every_job_stored_and_paid_once(faults, faults_results):
    _check(faults, "s3-down-stores", faults_results)


def test_storage_down_during_a_reconcile_settles_each_job_on_its_own(faults, faults_results):
    _check(faults, "s3-down-reconcile", faults_results)


def test_fal_down_falls_back_to_replicate_and_opens_its_breaker(faults, faults_results):
    _check(faults, "fal-down", faults_results)


def test_a_hanging_fal_leaves_time_for_replicate_within_the_run_deadline(faults, faults_results):
    _check(faults, "fal-hang", faults_results)


def test_every_job_run_delivered_twice_at_once_pays_each_job_once(faults, faults_results):
    _check(faults, "duplicate-delivery", faults_results)


def test_beat_settles_the_jobs_of_killed_workers_before_any_redelivery(faults, faults_results):
    _check(faults, "beat-recovery", faults_results)


def test_identical_requests_at_the_same_moment_are_charged_once(faults, faults_results):
    _check(faults, "identical-requests", faults_results)


def test_an_undersized_delivery_is_the_providers_failure_not_a_success(faults, faults_results):
    _check(faults, "fal-undersized", faults_results)
