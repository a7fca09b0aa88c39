"""Completion webhooks of API jobs, delivered to a local receiver: signed (checked by the reference
verifier the docs show), retried after a failure with the same delivery id, never sent to a private
address, and given up after a day or when the key is revoked."""

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections import deque
from datetime import timedelta

import pytest
from django.utils import timezone

from avatarsite.core import outbound
from billing.models import ApiKey
from generation import deliveries
from generation.models import GenerationJob, WebhookDelivery
from generation.services import generation_job_run
from tests.billing.factories import ApiKeyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations"


def verify_webhook(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> dict:
    """The reference verifier, as the API docs give it to clients."""
    timestamp = int(headers["Avatarsite-Webhook-Timestamp"])
    if abs(time.time() - timestamp) > tolerance:
        raise ValueError("stale webhook")
    expected = "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers["Avatarsite-Signature"]):
        raise ValueError("bad signature")
    return json.loads(body)


class Receiver:
    """A local webhook endpoint: records every request; answers the scripted statuses, then 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: deque[int] = deque()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                self.send_response(receiver.statuses.popleft() if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/avatars"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def client_key():
    key = ApiKeyFactory(user=SubscriptionFactory(user__username="ada", plan__slug="enterprise").user, name="backend")
    return key, {"HTTP_AUTHORIZATION": f"Bearer {key.raw}"}


def _create(client, headers, **body) -> dict:
    response = client.post(
        URL, data=json.dumps({"prompt": "A calm man", "style": "comic", **body}), content_type="application/json", **headers
    )
    assert response.status_code == 202, response.content
    return response.json()


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):
    """Run a job to its end, with what follows its commit (the webhook's start among them)."""

    def run(job_id: str) -> WebhookDelivery:
        with django_capture_on_commit_callbacks(execute=True):
            generation_job_run(job_id=job_id)
        return WebhookDelivery.objects.get(job_id=job_id)

    return run


def test_a_finished_job_is_posted_to_its_webhook_signed_with_the_keys_secret(client, client_key, receiver, run_job, broker, settings):
    key, headers = client_key
    job = _create(client, headers, webhook_url=receiver.url)
    delivery = run_job(job["id"])

    queued = [json.loads(raw)["headers"]["task"] for key in broker.scan_iter(match="standard*") for raw in broker.lrange(key, 0, -1)]
    assert queued.count("generation.tasks.webhook_deliver") == 1  # the delivery task, once the end is committed
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "delivered"
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "not pending"  # a redelivered task sends nothing

    [(received_headers, body)] = receiver.requests
    event = verify_webhook(key.webhook_secret, received_headers, body)
    assert received_headers["Avatarsite-Webhook-Id"] == event["id"] == str(delivery.pk)
    assert event["type"] == "generation.succeeded"
    assert (event["data"]["id"], event["data"]["status"]) == (job["id"], "succeeded")
    assert event["data"]["url"].endswith(f"{URL}/{job['id']}")
    assert event["data"]["images"][0]["provenance"]["commercial_use_allowed"] is True
    # Image links are absolute on the site's public address, as the job's own link is.
    variant_urls = [variant["url"] for variant in event["data"]["images"][0]["variants"]]
    assert variant_urls
    assert all(url.startswith(f"{settings.SITE_URL}/generate/jobs/{job['id']}/images/0/") and "token=" in url for url in variant_urls)
    with pytest.raises(ValueError, match="bad signature"):
        verify_webhook(
            ApiKey.objects.create(user=key.user, name="other", prefix="avk_other000", key_hash="x").webhook_secret, received_headers, body
        )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_failed_attempt_is_retried_later_with_the_same_delivery_id(client, client_key, receiver, time_machine, run_job):
    key, headers = client_key
    time_machine.move_to(timezone.now())
    receiver.statuses.extend([500, 503])
    job = _create(client, headers, webhook_url=receiver.url)
    delivery = run_job(job["id"])

    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "pending"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error) == (1, "HTTP 500")
    assert 24 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 36
    assert deliveries.webhook_deliveries_due() == []
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "not due"

    time_machine.shift(timedelta(seconds=40))
    assert deliveries.webhook_deliveries_due() == [str(delivery.pk)]
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "pending"  # 503
    delivery.refresh_from_db()
    assert 48 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 72  # backing off
    time_machine.shift(timedelta(seconds=80))
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "delivered"

    ids = [headers["Avatarsite-Webhook-Id"] for headers, _ in receiver.requests]
    assert ids == [str(delivery.pk)] * 3
    assert len({json.loads(body)["id"] for _, body in receiver.requests}) == 1  # a receiver counts one event
    for received_headers, body in receiver.requests:
        verify_webhook(key.webhook_secret, received_headers, body)


def test_a_receiver_failing_for_a_day_is_given_up(client, client_key, receiver, time_machine, run_job):
    _, headers = client_key
    time_machine.move_to(timezone.now())
    receiver.statuses.extend([500] * 10)
    delivery = run_job(_create(client, headers, webhook_url=receiver.url)["id"])
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "pending"

    time_machine.shift(timedelta(hours=24, minutes=1))
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)


def test_an_operator_retries_a_given_up_delivery_from_the_admin(client, client_key, receiver, run_job, admin_client, time_machine):
    _, headers = client_key
    time_machine.move_to(timezone.now())
    receiver.statuses.extend([500, 500])
    delivery = run_job(_create(client, headers, webhook_url=receiver.url)["id"])
    deliveries.webhook_deliver(delivery_id=str(delivery.pk))
    time_machine.shift(timedelta(hours=25))
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "failed"

    response = admin_client.post(
        "/admin/generation/webhookdelivery/", {"action": "retry_now", "_selected_action": [str(delivery.pk)]}, follow=True
    )

    assert b"will be retried" in response.content
    assert deliveries.webhook_deliveries_due() == [str(delivery.pk)]
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "delivered"
    assert [h["Avatarsite-Webhook-Id"] for h, _ in receiver.requests] == [str(delivery.pk)] * 3


def test_a_revoked_key_stops_its_webhooks(client, client_key, receiver, run_job):
    key, headers = client_key
    delivery = run_job(_create(client, headers, webhook_url=receiver.url)["id"])
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())

    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "failed"
    assert receiver.requests == []


def test_jobs_without_a_webhook_and_canceled_ones(client, client_key, receiver, run_job):
    _, headers = client_key
    plain = _create(client, headers)
    with pytest.raises(WebhookDelivery.DoesNotExist):
        run_job(plain["id"])
    assert not WebhookDelivery.objects.filter(job_id=plain["id"]).exists()

    queued = _create(client, headers, prompt="A smiling woman", webhook_url=receiver.url)
    assert client.post(f"{URL}/{queued['id']}/cancel", **headers).status_code == 200
    delivery = WebhookDelivery.objects.get(job_id=queued["id"])
    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "delivered"
    assert json.loads(receiver.requests[0][1])["type"] == "generation.canceled"


@pytest.mark.parametrize(
    ("url", "resolves_to", "reason"),
    [
        ("http://hooks.example.com/x", ["93.184.216.34"], "only to https"),
        ("https://hooks.example.com:8443/x", ["93.184.216.34"], "port 8443"),
        ("https://user:pw@hooks.example.com/x", ["93.184.216.34"], "credentials"),
        ("https://hooks.example.com/x", ["10.0.0.5"], "private"),
        ("https://hooks.example.com/x", ["169.254.169.254"], "link-local"),
        ("https://hooks.example.com/x", ["127.0.0.1"], "loopback"),
        ("ftp://hooks.example.com/x", ["93.184.216.34"], "only to https"),
    ],
)
def test_webhook_urls_to_private_addresses_or_not_https_are_refused(client, client_key, settings, monkeypatch, url, resolves_to, reason):
    _, headers = client_key
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    monkeypatch.setattr(outbound, "resolve", lambda host, port: resolves_to)

    response = client.post(URL, data=json.dumps({"prompt": "A calm man", "webhook_url": url}), content_type="application/json", **headers)

    assert response.status_code == 400
    error = response.json()["error"]
    assert reason in error["details"]["webhook_url"][0]
    assert not GenerationJob.objects.exists()


def test_a_name_that_turns_private_after_the_check_is_not_contacted(client, client_key, settings, monkeypatch, run_job):
    """DNS rebinding: public when the job is requested, loopback when the webhook is sent."""
    _, headers = client_key
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.216.34"])
    job = _create(client, headers, webhook_url="https://hooks.example.com/avatars")
    delivery = run_job(job["id"])
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])

    assert deliveries.webhook_deliver(delivery_id=str(delivery.pk)) == "failed"
    delivery.refresh_from_db()
    assert "loopback" in delivery.last_error


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_job_and_delivers_its_webhook(client, client_key, receiver, broker, artifacts_dir):
    """The whole way: the API request, a Celery worker running the job and then the delivery task."""
    from tests.support.processes import celery_worker_args, project_env, running, subprocess_database_url
    from tests.support.workers import log_tail, wait_for

    key, headers = client_key
    job = _create(client, headers, webhook_url=receiver.url)
    log = artifacts_dir / "webhook-worker.log"

    with running(celery_worker_args("enterprise", "standard"), env=project_env(DATABASE_URL=subprocess_database_url()), log=log):
        wait_for(lambda: receiver.requests, timeout=60, what=f"the webhook\n{log_tail(log)}")

    [(received_headers, body)] = receiver.requests
    event = verify_webhook(key.webhook_secret, received_headers, body)
    assert (event["type"], event["data"]["id"]) == ("generation.succeeded", job["id"])
    assert WebhookDelivery.objects.get(job_id=job["id"]).status == "delivered"
