"""Outgoing deliveries, the completion webhooks of API jobs: when a job that asked for one ends, its JSON is POSTed to the
client's URL, signed with the API key's secret, and retried with exponential backoff until a 2xx
or a day has passed. One delivery per job; its id is sent on every attempt, so a receiver that
got an attempt whose answer was lost can tell the retry apart.

Signature (the docs show how to check it): the header `Avatarsite-Signature: v1=<hex>`, where hex
is HMAC-SHA256 with the key's webhook secret over `<timestamp>.<body>`, and `<timestamp>` is the
`Avatarsite-Webhook-Timestamp` header (Unix seconds): a receiver refuses old timestamps, so a
captured delivery cannot be replayed later.

Only public addresses over https are contacted (checked when the job is requested, and again at
every attempt, on the address actually connected to: DNS can change); redirects are not followed.
Retries come from a beat task every 30 s (no countdown tasks held in the broker).
"""

import hashlib
import hmac
import json
import logging
import random
import time
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from avatarsite.core.outbound import (
    FetchConnectionError,
    FetchPolicy,
    UnsafeFetchError,
    check_url,
    guarded_session,
    public_addresses,
)

from . import dispatch
from .errors import WebhookUrlError
from .models import GenerationJob, WebhookDelivery
from .payloads import job_api_json

logger = logging.getLogger(__name__)

ID_HEADER = "Avatarsite-Webhook-Id"
TIMESTAMP_HEADER = "Avatarsite-Webhook-Timestamp"
SIGNATURE_HEADER = "Avatarsite-Signature"
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600


def _policy() -> FetchPolicy:
    timeout = settings.API_WEBHOOK_TIMEOUT_SECONDS
    return FetchPolicy(
        allowed_hosts=frozenset({"*"}), connect_timeout=min(5.0, timeout), read_timeout=timeout, total_timeout=timeout,
        allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK,
    )  # fmt: skip


def webhook_url_check(url: str) -> str:
    """The URL if we would deliver to it (https, port 443, no credentials, a name that resolves to
    public addresses only), else WebhookUrlError saying why."""
    policy = _policy()
    try:
        host, port = check_url(url, policy)
    except UnsafeFetchError as exc:
        raise WebhookUrlError(str(exc).replace("only https is fetched", "webhooks go only to https URLs")) from exc
    try:
        public_addresses(host, port, allow_loopback=policy.allow_loopback)
    except (UnsafeFetchError, FetchConnectionError) as exc:
        raise WebhookUrlError(str(exc)) from exc
    return url


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def _retries_until(now: datetime) -> datetime:
    """When a delivery starting (or restarted) now stops being retried."""
    return now + timedelta(hours=settings.API_WEBHOOK_RETRY_HOURS)


def webhook_job_ended(job: GenerationJob) -> None:
    """Once a job's end is committed, on any path: start its delivery if it asked for one (once)."""
    if not job.webhook_url:
        return
    now = timezone.now()
    delivery, created = WebhookDelivery.objects.get_or_create(
        job=job, defaults={"url": job.webhook_url, "next_attempt_at": now, "give_up_at": _retries_until(now)}
    )
    if created:
        # A broker that cannot be reached now loses nothing: webhooks_due sends what is due.
        transaction.on_commit(lambda: dispatch.webhook_delivery_enqueue(str(delivery.pk)), robust=True)


def _retry_delay(attempts: int) -> float:
    """30 s, 1, 2, 4 … minutes, at most an hour, with ±20% jitter (receivers back up together)."""
    return min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter


def webhook_deliver(*, delivery_id: str) -> str:
    """One attempt of a pending delivery that is due; its status after it. The row stays locked during
    the attempt, so a task and the beat's retry never deliver it twice at once."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("job", "job__api_key")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return "not pending"
        now = timezone.now()
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return "not due"
        key = delivery.job.api_key
        if key is None or key.revoked_at is not None:
            return _finish(delivery, WebhookDelivery.Status.FAILED, error="the API key was revoked: nothing is sent without its secret")
        body, headers = _signed_body(delivery, secret=key.webhook_secret)
        delivery.attempts += 1
        status_code, error, permanent = _post(delivery.url, body=body, headers=headers)
        delivery.last_status_code = status_code
        if not error:
            return _finish(delivery, WebhookDelivery.Status.DELIVERED)
        if permanent or now >= delivery.give_up_at:
            return _finish(delivery, WebhookDelivery.Status.FAILED, error=error)
        return _retry_later(delivery, error=error, now=now)


def _signed_body(delivery: WebhookDelivery, *, secret: str) -> tuple[bytes, dict[str, str]]:
    """The delivery's JSON (the job as the API shows it) and its headers, signed now."""
    job = delivery.job
    job_url = settings.SITE_URL + reverse("api-generation-detail", args=[job.id])
    data = job_api_json(job, url=job_url, base_url=settings.SITE_URL)
    payload = {"id": str(delivery.id), "type": f"generation.{job.status}", "data": data}
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        ID_HEADER: str(delivery.id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=timestamp, body=body),
    }
    return body, headers


def _post(url: str, *, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, bool]:
    """POST once to a public https address, without following redirects: (the status code, an error
    or "" for a 2xx, whether the error is permanent: an address we will not contact)."""
    policy = _policy()
    status_code, error, permanent = None, "", False
    try:
        check_url(url, policy)
        with guarded_session(policy, user_agent="avatarsite-webhooks") as session:
            response = session.post(
                url, data=body, headers=headers, timeout=(policy.connect_timeout, policy.read_timeout), allow_redirects=False
            )
            status_code = response.status_code
            response.close()
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except UnsafeFetchError as exc:
        error, permanent = str(exc)[:250], True
    except (requests.RequestException, FetchConnectionError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:250]
    return status_code, error, permanent


def _retry_later(delivery: WebhookDelivery, *, error: str, now: datetime) -> str:
    """A failed attempt with retries left: the next one after the backoff."""
    delivery.last_error = error
    delivery.next_attempt_at = now + timedelta(seconds=_retry_delay(delivery.attempts))
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "next_attempt_at"])
    logger.info(
        "webhook %s of job %s: attempt %s failed (%s), next at %s",
        delivery.id,
        delivery.job_id,
        delivery.attempts,
        error,
        delivery.next_attempt_at,
    )
    return delivery.status


def _finish(delivery: WebhookDelivery, status: str, *, error: str = "") -> str:
    delivery.status, delivery.last_error = status, error
    delivery.next_attempt_at = None
    delivery.delivered_at = timezone.now() if status == WebhookDelivery.Status.DELIVERED else None
    delivery.save(update_fields=["status", "attempts", "last_status_code", "last_error", "next_attempt_at", "delivered_at"])
    if error:
        logger.warning("webhook %s of job %s gave up: %s", delivery.id, delivery.job_id, error)
    return status


def webhook_deliveries_due(*, limit: int = 200) -> list[str]:
    """The ids of pending deliveries whose next attempt is due (for the beat task to enqueue)."""
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
    return [str(pk) for pk in due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]]


def webhook_deliveries_retry(*, deliveries) -> int:
    """An operator's retry: pending again and due now, with a new day of retries from now (the
    delivery id stays, so a receiver that got an earlier attempt still counts it once)."""
    now = timezone.now()
    return deliveries.exclude(status=WebhookDelivery.Status.DELIVERED).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=now, give_up_at=_retries_until(now)
    )
