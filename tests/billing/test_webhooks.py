"""The Stripe webhook: signatures, store-by-id and duplicates, asynchronous processing, order of
arrival, invoices, failures and unknown types."""

import json
import threading
import time
from datetime import timedelta

import pytest
import requests
import time_machine
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing import dispatch
from billing.entitlements import entitlements
from billing.models import Invoice, StripeEvent, Subscription
from billing.stripe_events import stripe_event_process
from billing.tasks import stripe_event_process as stripe_event_task
from tests.billing.support import WEBHOOK_PATH, WEBHOOK_SECRET, paying_customer, post_event, process_received, stripe_env
from tests.fakes.stripe_signing import sign, signed_headers
from tests.support.processes import celery_worker_args, project_env, running, subprocess_database_url
from tests.support.workers import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("payer", "payer@example.com", "pw-123456789")


def _nothing_written() -> bool:
    return not StripeEvent.objects.exists() and not Subscription.objects.exists() and not Invoice.objects.exists()


# --- what is not a Stripe event signed with our secret (and recent) gets 400 and changes nothing --


def _signed_event(fake_stripe, member) -> tuple[bytes, dict]:
    subscription = paying_customer(fake_stripe, member)
    event = fake_stripe.event("customer.subscription.created", subscription)
    return json.dumps(event).encode(), event


@pytest.mark.parametrize(
    "case",
    [
        "missing signature",
        "wrong secret",
        "tampered body",
        "stale timestamp",
        "forged digest",
        "garbage header",
        "empty body",
        "not json",
    ],
)
def test_webhook_refuses_what_stripe_did_not_sign_and_changes_nothing(client, stripe_settings, fake_stripe, member, case):
    payload, _ = _signed_event(fake_stripe, member)
    now = int(time.time())
    headers = {
        "missing signature": {},
        "wrong secret": {"HTTP_STRIPE_SIGNATURE": sign(payload, "whsec_someone_else")},
        "tampered body": {"HTTP_STRIPE_SIGNATURE": sign(payload, WEBHOOK_SECRET)},
        "stale timestamp": {"HTTP_STRIPE_SIGNATURE": sign(payload, WEBHOOK_SECRET, now - 301)},
        "forged digest": {"HTTP_STRIPE_SIGNATURE": f"t={now},v1={'0' * 64}"},
        "garbage header": {"HTTP_STRIPE_SIGNATURE": "this is not a signature"},
        "empty body": {"HTTP_STRIPE_SIGNATURE": sign(b"", WEBHOOK_SECRET)},
        "not json": {"HTTP_STRIPE_SIGNATURE": sign(b"<xml>hello</xml>", WEBHOOK_SECRET)},
    }[case]
    body = {"tampered body": payload.replace(b"active", b"canceled"), "empty body": b"", "not json": b"<xml>hello</xml>"}.get(case, payload)

    response = client.post(WEBHOOK_PATH, data=body, content_type="application/json", **headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_webhook"
    assert response.json()["error"]["message"]
    assert _nothing_written()


def test_webhook_refuses_a_signature_that_was_fresh_when_made_but_arrives_late(client, stripe_settings, fake_stripe, member):
    payload, _ = _signed_event(fake_stripe, member)
    header = sign(payload, WEBHOOK_SECRET)
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        response = client.post(WEBHOOK_PATH, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400
    assert _nothing_written()


def test_webhook_refuses_everything_while_no_secret_is_configured(client, stripe_settings, fake_stripe, member):
    stripe_settings.STRIPE_WEBHOOK_SECRET = ""
    payload, _ = _signed_event(fake_stripe, member)
    # Signed with the empty secret: what anyone could do if an empty secret were accepted.
    response = client.post(WEBHOOK_PATH, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload, ""))
    assert response.status_code == 400
    assert "not configured" in response.json()["error"]["message"]
    assert _nothing_written()


@pytest.mark.parametrize("body", [b"[]", b'{"no": "id"}', b'{"id": 7, "type": "invoice.paid"}'])
def test_webhook_refuses_signed_json_that_is_not_an_event(client, stripe_settings, body):
    response = client.post(WEBHOOK_PATH, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body, WEBHOOK_SECRET))
    assert response.status_code == 400
    assert _nothing_written()


def test_webhook_answers_405_to_a_get(client, stripe_settings):
    assert client.get(WEBHOOK_PATH).status_code == 405


# --- stored by id first; a repeat is acknowledged and changes nothing a second time --------------


def test_the_same_event_delivered_twice_is_stored_and_applied_once(
    client, stripe_settings, fake_stripe, member, django_capture_on_commit_callbacks
):
    subscription = paying_customer(fake_stripe, member)
    event = fake_stripe.event("invoice.paid", fake_stripe.invoice_create(subscription["id"], paid=True))

    with django_capture_on_commit_callbacks() as enqueued:
        first = post_event(client, event)
        second = post_event(client, event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"received": event["id"], "duplicate": False}
    assert second.json() == {"received": event["id"], "duplicate": True}
    assert len(enqueued) == 1  # one processing task for the two deliveries
    assert process_received() == ["processed"]
    assert stripe_event_process(event_id=event["id"]) == "processed"  # a redelivered task is a no-op
    assert StripeEvent.objects.get().attempts == 1
    assert Invoice.objects.count() == 1
    assert entitlements(user_id=member.pk).plan == "premium"


def test_a_new_event_is_enqueued_once_through_the_dispatch_seam_after_commit(
    client, stripe_settings, fake_stripe, member, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[str] = []
    monkeypatch.setattr(dispatch, "stripe_event_process", lambda *, event_id: sent.append(event_id))
    event = fake_stripe.event("customer.subscription.created", paying_customer(fake_stripe, member))

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, event)
        post_event(client, event)
        assert sent == []  # nothing is sent before the row is committed

    assert sent == [event["id"]]


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_concurrently_is_stored_once(live_server, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member)
    event = fake_stripe.event("customer.subscription.created", subscription)
    payload = json.dumps(event).encode()
    barrier = threading.Barrier(2)
    answers = []

    def deliver() -> None:
        barrier.wait()
        answers.append(
            requests.post(live_server.url + WEBHOOK_PATH, data=payload, headers=signed_headers(payload, WEBHOOK_SECRET), timeout=10)
        )

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer.status_code for answer in answers) == [200, 200]
    assert sorted(answer.json()["duplicate"] for answer in answers) == [False, True]
    assert StripeEvent.objects.count() == 1


# --- the view stores and answers at once; applying the event is a task ---------------------------


@pytest.mark.django_db(transaction=True)
def test_webhook_answers_before_the_event_is_applied(client, stripe_settings, fake_stripe, member, broker, artifacts_dir):
    """The view only stores the event and enqueues its task: the answer comes while the event is
    still unapplied, and a worker applies it afterwards."""
    subscription = paying_customer(fake_stripe, member)
    event = fake_stripe.event("customer.subscription.created", subscription)

    response = post_event(client, event)

    assert response.status_code == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.RECEIVED
    assert not Subscription.objects.exists()
    assert broker.llen("standard") == 1  # the processing task, waiting for a worker (priority 0 = the bare list)
    env = project_env(DATABASE_URL=subprocess_database_url(), **stripe_env(fake_stripe))
    with running(celery_worker_args("standard"), env=env, log=artifacts_dir / "billing-worker.log"):
        wait_for(lambda: StripeEvent.objects.filter(status="processed").exists(), timeout=30, what="the worker to apply the event")
    assert entitlements(user_id=member.pk).plan == "premium"


# --- order of arrival does not matter: the newest Stripe object wins ----------------------------


def test_updated_arriving_before_created_ends_in_stripes_current_state(client, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member)
    created = fake_stripe.event("customer.subscription.created", subscription)
    updated = fake_stripe.event(
        "customer.subscription.updated", fake_stripe.subscription_update(subscription["id"], cancel_at_period_end=True)
    )

    post_event(client, updated)
    process_received()
    post_event(client, created)
    process_received()

    row = Subscription.objects.get(user=member)
    assert row.status == Subscription.Status.ACTIVE
    assert row.cancel_at_period_end is True  # the newer state stands, not the older "created" copy
    assert entitlements(user_id=member.pk).plan == "premium"


def test_a_late_event_of_an_ended_subscription_does_not_end_the_new_one(client, stripe_settings, fake_stripe, member):
    old = paying_customer(fake_stripe, member)
    old_deleted = fake_stripe.event("customer.subscription.deleted", fake_stripe.subscription_delete(old["id"]))
    fake_stripe.now += 60  # the new subscription is created after the old one ended
    new = fake_stripe.subscription_create(old["customer"], metadata={"user_id": str(member.pk), "plan": "premium"})

    post_event(client, fake_stripe.event("customer.subscription.created", new))
    process_received()
    post_event(client, old_deleted)
    process_received()

    row = Subscription.objects.get(user=member)
    assert row.stripe_subscription_id == new["id"]
    assert entitlements(user_id=member.pk).plan == "premium"


# A subscription's life at Stripe: each step changes it, and Stripe sends an event about it.
LIFE = [
    ("customer.subscription.created", {}),
    ("invoice.paid", None),
    ("customer.subscription.updated", {"status": "past_due"}),
    ("invoice.payment_failed", None),
    ("customer.subscription.updated", {"status": "active"}),
    ("customer.subscription.updated", {"cancel_at_period_end": True}),
    ("customer.subscription.deleted", "delete"),
]


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_and_any_repeats_of_the_events_end_in_the_newest_state(client, stripe_settings, fake_stripe, member, data):
    Subscription.objects.all().delete()
    StripeEvent.objects.all().delete()
    Invoice.objects.all().delete()
    member.stripe_customer.delete() if hasattr(member, "stripe_customer") else None
    member.refresh_from_db()
    subscription = paying_customer(fake_stripe, member)
    events = []
    for event_type, change in LIFE:
        if event_type.startswith("invoice."):
            obj = fake_stripe.invoice_create(subscription["id"], paid=event_type == "invoice.paid")
        elif change == "delete":
            obj = fake_stripe.subscription_delete(subscription["id"])
        else:
            obj = fake_stripe.subscription_update(subscription["id"], **change) if change else fake_stripe.subscriptions[subscription["id"]]
        events.append(fake_stripe.event(event_type, obj))
    order = data.draw(st.permutations(events))
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=4))

    for event in [*order, *repeats]:
        assert post_event(client, event).status_code == 200
        process_received()

    row = Subscription.objects.get(user=member)
    assert row.status == Subscription.Status.CANCELED
    assert row.stripe_status == "canceled"
    assert entitlements(user_id=member.pk).plan == "free"
    assert StripeEvent.objects.count() == len(events)
    assert Invoice.objects.count() == 2


# --- invoices: a paid invoice renews the quota once; a failed one revokes no paid period at once --


def test_invoice_paid_for_the_same_invoice_extends_the_period_once(client, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member)
    post_event(client, fake_stripe.event("customer.subscription.created", subscription))
    process_received()
    # The renewal: Stripe moves the period on and sends invoice.paid; the same invoice comes twice
    # under two event ids (e.g. a resend from the dashboard).
    period_end = subscription["items"]["data"][0]["current_period_end"]
    fake_stripe.subscription_update(subscription["id"], current_period_start=period_end, current_period_end=period_end + 30 * 86400)
    invoice = fake_stripe.invoice_create(subscription["id"], paid=True)
    post_event(client, fake_stripe.event("invoice.paid", invoice))
    post_event(client, fake_stripe.event("invoice.paid", invoice))
    process_received()

    row = Subscription.objects.get(user=member)
    assert int(row.current_period_end.timestamp()) == period_end + 30 * 86400  # once, not twice
    assert Invoice.objects.filter(stripe_invoice_id=invoice["id"]).count() == 1
    stored = Invoice.objects.get()
    assert (stored.status, stored.amount_paid, stored.user) == ("paid", 1000, member)


def test_payment_failed_on_a_subscription_stripe_still_holds_active_revokes_nothing(client, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member)
    post_event(client, fake_stripe.event("customer.subscription.created", subscription))
    post_event(client, fake_stripe.event("invoice.payment_failed", fake_stripe.invoice_create(subscription["id"], paid=False)))
    process_received()

    row = Subscription.objects.get(user=member)
    assert row.status == Subscription.Status.ACTIVE
    assert row.grace_until is None
    assert entitlements(user_id=member.pk).plan == "premium"


def test_payment_failure_gives_a_grace_period_then_the_free_plan(client, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member)
    post_event(client, fake_stripe.event("customer.subscription.created", subscription))
    process_received()
    failed = fake_stripe.invoice_create(subscription["id"], paid=False)
    fake_stripe.subscription_update(subscription["id"], status="past_due")
    post_event(client, fake_stripe.event("invoice.payment_failed", failed))
    post_event(client, fake_stripe.event("customer.subscription.updated", fake_stripe.subscriptions[subscription["id"]]))
    process_received()

    row = Subscription.objects.get(user=member)
    assert row.status == Subscription.Status.PAST_DUE
    assert timedelta(days=6, hours=23) < row.grace_until - timezone.now() <= timedelta(days=7)
    assert entitlements(user_id=member.pk).plan == "premium"  # not revoked at once
    assert entitlements(user_id=member.pk, now=timezone.now() + timedelta(days=6)).plan == "premium"
    assert entitlements(user_id=member.pk, now=timezone.now() + timedelta(days=7, minutes=1)).plan == "free"
    # A second failed attempt does not restart the grace period.
    grace = row.grace_until
    post_event(client, fake_stripe.event("invoice.payment_failed", fake_stripe.invoice_create(subscription["id"], paid=False)))
    process_received()
    assert Subscription.objects.get(user=member).grace_until == grace


def test_a_recovered_payment_ends_the_grace_period(client, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member, status="past_due")
    post_event(client, fake_stripe.event("customer.subscription.updated", subscription))
    process_received()
    fake_stripe.subscription_update(subscription["id"], status="active")
    post_event(client, fake_stripe.event("invoice.paid", fake_stripe.invoice_create(subscription["id"], paid=True)))
    process_received()

    row = Subscription.objects.get(user=member)
    assert (row.status, row.grace_until) == (Subscription.Status.ACTIVE, None)


# --- the rest: unknown types, the other mode, Stripe unreachable --------------------------------


def test_unknown_event_types_are_stored_and_ignored(client, stripe_settings, fake_stripe):
    event = fake_stripe.event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})
    assert post_event(client, event).status_code == 200
    assert process_received() == ["ignored"]
    assert StripeEvent.objects.get().type == "customer.tax_id.created"


def test_events_of_the_other_mode_are_stored_and_ignored(client, stripe_settings, fake_stripe, member, django_capture_on_commit_callbacks):
    event = {**fake_stripe.event("customer.subscription.created", paying_customer(fake_stripe, member)), "livemode": True}
    with django_capture_on_commit_callbacks() as enqueued:
        assert post_event(client, event).status_code == 200
    assert enqueued == []
    assert StripeEvent.objects.get().status == StripeEvent.Status.IGNORED
    assert not Subscription.objects.exists()


def test_stripe_unreachable_while_applying_leaves_the_event_to_retry_and_nothing_half_done(client, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member)
    event = fake_stripe.event("invoice.paid", fake_stripe.invoice_create(subscription["id"], paid=True))
    post_event(client, event)
    fake_stripe.next_outcomes.extend([503, 503, 503])  # the library's two retries included

    assert stripe_event_task.run(event["id"]) == "failed"  # the task gives it to the reconciler

    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts) == (StripeEvent.Status.FAILED, 1)
    assert "StripeUnavailableError" in stored.error
    assert not Invoice.objects.exists()  # the invoice row was rolled back with the rest
    assert not Subscription.objects.exists()
    assert stripe_event_process(event_id=event["id"]) == "processed"  # Stripe is back: the retry applies it
    assert StripeEvent.objects.get().attempts == 2
    assert Invoice.objects.count() == 1
    assert entitlements(user_id=member.pk).plan == "premium"


def test_reconcile_requeues_events_whose_processing_was_lost_or_failed(client, stripe_settings, fake_stripe, member, broker):
    from billing.services import stripe_reconcile

    subscription = paying_customer(fake_stripe, member)
    post_event(client, fake_stripe.event("customer.subscription.created", subscription))
    post_event(client, fake_stripe.event("customer.subscription.updated", subscription))
    post_event(client, fake_stripe.event("invoice.paid", fake_stripe.invoice_create(subscription["id"], paid=True)))
    StripeEvent.objects.filter(type="invoice.paid").update(status=StripeEvent.Status.FAILED, attempts=1)
    StripeEvent.objects.filter(type="customer.subscription.updated").update(status=StripeEvent.Status.PROCESSED)
    StripeEvent.objects.update(received_at=timezone.now() - timedelta(minutes=10))

    summary = stripe_reconcile()

    assert summary.events_requeued == 2  # the lost one and the failed one, not the processed one
    assert broker.llen("standard") == 2


def test_reconcile_rereads_a_subscription_whose_period_ended_without_news(client, stripe_settings, fake_stripe, member):
    from billing.services import stripe_reconcile

    subscription = paying_customer(fake_stripe, member)
    post_event(client, fake_stripe.event("customer.subscription.created", subscription))
    process_received()
    fake_stripe.subscription_delete(subscription["id"])  # the deleted webhook never came

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        summary = stripe_reconcile()

    assert summary.subscriptions_refreshed == 1
    assert Subscription.objects.get(user=member).status == Subscription.Status.CANCELED


def test_the_webhook_url_is_the_documented_one():
    assert reverse("billing:stripe_webhook") == WEBHOOK_PATH


def test_where_stripe_no_longer_has_the_subscription_the_newest_event_copy_wins(client, stripe_settings, fake_stripe, member):
    subscription = paying_customer(fake_stripe, member)
    created = fake_stripe.event("customer.subscription.created", subscription)
    deleted = fake_stripe.event("customer.subscription.deleted", fake_stripe.subscription_delete(subscription["id"]))
    del fake_stripe.subscriptions[subscription["id"]]  # Stripe answers 404 from now on

    post_event(client, deleted)
    post_event(client, created)
    assert process_received() == ["processed", "processed"]

    row = Subscription.objects.get(user=member)
    assert row.status == Subscription.Status.CANCELED  # the older "created" copy did not bring it back
    assert entitlements(user_id=member.pk).plan == "free"
