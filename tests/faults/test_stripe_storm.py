"""A storm of Stripe webhooks through the real web server and a Celery worker:
500 signed deliveries, duplicated and shuffled, for 20 customers with 2-3 subscriptions each, sent
by concurrent senders while the worker's pool applies them concurrently. Every customer must end on
the newest of their subscriptions (Stripe's `created`, then the id) in its final state, with the
plan that state grants, and every event must be stored and applied exactly once.

Self-contained (its own fixtures, prefixed `stripe_`): uvicorn and the worker are subprocesses on
this run's PostgreSQL and Redis; the fake Stripe runs here and answers the worker's re-reads.
"""

import json
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import stripe

from billing.entitlements import entitlements
from billing.models import Invoice, StripeCustomer, StripeEvent, Subscription
from tests.billing.support import WEBHOOK_PATH, WEBHOOK_SECRET, stripe_env
from tests.fakes.stripe import FakeStripe
from tests.support.processes import free_port, project_env, running, subprocess_database_url, uvicorn_args
from tests.support.workers import log_tail, log_text, wait_for, worker_args

CUSTOMERS = 20
DELIVERIES = 500
SENDERS = 4
WORKER_CONCURRENCY = 3  # pool processes: events of one customer are applied side by side
SEED = 1613  # the scenario and the shuffle; the interleaving of senders and workers is the machine's
# How a subscription's life goes on after it is created, and how it ends.
MIDDLE_STEPS = [{"cancel_at_period_end": True}, {"status": "past_due"}, {"status": "active"}]
FATES = ["canceled", "canceled", "active", "past_due"]
# Most customers subscribe again after their subscription ended (so all but the last are canceled,
# and often the last too: two canceled subscriptions are where a late older event used to win);
# the others hold overlapping subscriptions, their lives interleaved.
OVERLAPPING = 0.3


@dataclass
class StormCustomer:
    user_id: int
    subscriptions: list[str] = field(default_factory=list)


@dataclass
class StripeStorm:
    """The scenario: what Stripe holds at the end, and the events it sent about it."""

    customers: list[StormCustomer]
    events: list[dict]
    invoices: int
    finals: dict[str, dict]  # subscription id -> its final object
    gone: int  # subscriptions Stripe no longer has


@dataclass
class StripeStack:
    url: str
    server_log: Path
    worker_log: Path


@pytest.fixture
def stripe_fake():
    fake = FakeStripe(webhook_secret=WEBHOOK_SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_stack(transactional_db, stripe_fake, artifacts_dir):
    """uvicorn serving the webhook and one Celery worker on the `standard` queue (where billing's
    tasks go), both pointed at the fake Stripe and this run's database."""
    env = project_env(DATABASE_URL=subprocess_database_url(), **stripe_env(stripe_fake))
    port = free_port()
    server_log, worker_log = artifacts_dir / "stripe-storm-server.log", artifacts_dir / "stripe-storm-worker.log"
    worker = worker_args("standard", name="stripe-storm", concurrency=WORKER_CONCURRENCY)
    with running(uvicorn_args(port), env=env, port=port, log=server_log), running(worker, env=env, log=worker_log):
        yield StripeStack(url=f"http://127.0.0.1:{port}", server_log=server_log, worker_log=worker_log)


def _storm(fake: FakeStripe, django_user_model, rng: random.Random) -> StripeStorm:
    """Live the customers' subscriptions at the fake, one after the other or interleaved (some steps
    in the same second, so that `created` ties happen); a few subscriptions end up gone from Stripe
    (404), so that their events' own copies are what the worker applies."""
    customers, events, invoices, finals = [], [], 0, {}
    for number in range(CUSTOMERS):
        user = django_user_model.objects.create_user(f"storm{number}", f"storm{number}@example.com", "pw-123456789")
        stripe_customer = fake.customer_create(email=user.email, metadata={"user_id": str(user.pk)})
        StripeCustomer.objects.create(user=user, customer_id=stripe_customer["id"])
        customer = StormCustomer(user_id=user.pk)
        count = rng.choice([2, 3])
        gone = [rng.random() < 0.15 for _ in range(count)]
        overlapping = rng.random() < OVERLAPPING
        fates = [rng.choice(FATES) if overlapping or index == count - 1 else "canceled" for index in range(count)]
        steps = [["create", *rng.sample(MIDDLE_STEPS, rng.randint(0, 2)), fate] for fate in fates]
        order = [index for index in range(count) for _ in steps[index]]
        if overlapping:
            rng.shuffle(order)
        ids: list[str] = [""] * count
        for index in order:
            fake.now += rng.choice([0, 0, 1, 30])
            step = steps[index].pop(0)
            if step == "create":
                metadata = {"user_id": str(user.pk), "plan": "premium"}
                obj = fake.subscription_create(stripe_customer["id"], metadata=metadata)
                ids[index] = obj["id"]
                events.append(fake.event("customer.subscription.created", obj))
                if not gone[index]:  # an invoice event re-reads its subscription: it needs one Stripe still has
                    events.append(fake.event("invoice.paid", fake.invoice_create(obj["id"], paid=True)))
                    invoices += 1
            elif step == "canceled":
                events.append(fake.event("customer.subscription.deleted", fake.subscription_delete(ids[index])))
            else:
                change = {"status": step} if isinstance(step, str) else step
                events.append(fake.event("customer.subscription.updated", fake.subscription_update(ids[index], **change)))
        customer.subscriptions = ids
        customers.append(customer)
        for sub_id, is_gone in zip(ids, gone, strict=True):
            finals[sub_id] = fake.subscriptions[sub_id]
            if is_gone:
                del fake.subscriptions[sub_id]
    gone = sum(sub_id not in fake.subscriptions for sub_id in finals)
    return StripeStorm(customers=customers, events=events, invoices=invoices, finals=finals, gone=gone)


def _shape(storm: StripeStorm) -> str:
    """What the scenario holds that matters here, for the figures."""
    lives = [[storm.finals[sub_id] for sub_id in customer.subscriptions] for customer in storm.customers]
    canceled = sum(all(sub["status"] == "canceled" for sub in subs) for subs in lives)
    ties = sum(len({sub["created"] for sub in subs}) < len(subs) for subs in lives)
    return f"subscriptions={len(storm.finals)} all_canceled_customers={canceled} created_tie_customers={ties} gone_from_stripe={storm.gone}"


def _send(url: str, deliveries: deque, answers: list, errors: list) -> None:
    """One sender: takes the next delivery until none is left; signs each with Stripe's own library
    when it sends it, as Stripe does for each attempt."""
    with requests.Session() as session:
        while True:
            try:
                event = deliveries.popleft()
            except IndexError:
                return
            payload = json.dumps(event, indent=2)
            signature = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
            headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
            try:
                response = session.post(url, data=payload.encode(), headers=headers, timeout=30)
                answers.append((event["id"], response.status_code, response.json()))
            except (requests.RequestException, ValueError) as exc:
                errors.append(f"{event['id']}: {exc!r}")


@pytest.mark.django_db(transaction=True)
def test_a_storm_of_duplicated_shuffled_webhooks_leaves_every_customer_on_the_newest_subscription_and_applies_each_event_once(
    django_user_model, stripe_fake, stripe_stack, artifacts_dir
):
    rng = random.Random(SEED)
    storm = _storm(stripe_fake, django_user_model, rng)
    unique = len(storm.events)
    deliveries = [*storm.events, *(rng.choice(storm.events) for _ in range(DELIVERIES - unique))]
    rng.shuffle(deliveries)
    assert unique < DELIVERIES
    assert len(deliveries) == DELIVERIES

    started = time.monotonic()
    queue, answers, errors = deque(deliveries), [], []
    senders = [threading.Thread(target=_send, args=(stripe_stack.url + WEBHOOK_PATH, queue, answers, errors)) for _ in range(SENDERS)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    sent = time.monotonic() - started
    wait_for(
        lambda: not StripeEvent.objects.exclude(status=StripeEvent.Status.PROCESSED).exists() and StripeEvent.objects.count() == unique,
        timeout=90,
        what=f"every event to be applied\n{log_tail(stripe_stack.worker_log)}",
    )
    applied = time.monotonic() - started
    (artifacts_dir / "stripe-storm.txt").write_text(
        f"stripe storm deliveries={DELIVERIES} unique_events={unique} customers={CUSTOMERS} {_shape(storm)} senders={SENDERS} "
        f"worker_concurrency={WORKER_CONCURRENCY} sent_s={sent:.1f} applied_s={applied:.1f}\n"
    )

    # Every delivery was answered 200; each event was new exactly once, its repeats acknowledged.
    assert errors == []
    assert len(answers) == DELIVERIES
    assert {status for _, status, _ in answers} == {200}, log_tail(stripe_stack.server_log)
    firsts = Counter(event_id for event_id, _, body in answers if body == {"received": event_id, "duplicate": False})
    assert firsts == Counter(event["id"] for event in storm.events)
    # Each stored once and applied once (a redelivered or repeated task would count an attempt).
    stored = list(StripeEvent.objects.values_list("id", "status", "attempts"))
    assert sorted(stored) == sorted((event["id"], StripeEvent.Status.PROCESSED, 1) for event in storm.events)
    assert log_text(stripe_stack.worker_log).count("succeeded in") == unique, log_tail(stripe_stack.worker_log)
    assert Invoice.objects.count() == storm.invoices

    # Every customer is on their newest subscription, in its final state, with the plan it grants.
    wrong = []
    for customer in storm.customers:
        newest = max((storm.finals[sub_id] for sub_id in customer.subscriptions), key=lambda sub: (sub["created"], sub["id"]))
        row = Subscription.objects.get(user_id=customer.user_id)
        plan = "free" if newest["status"] == "canceled" else "premium"
        got = (row.stripe_subscription_id, row.stripe_status, row.cancel_at_period_end, entitlements(user_id=customer.user_id).plan)
        if got != (newest["id"], newest["status"], newest["cancel_at_period_end"], plan):
            wrong.append(f"user {customer.user_id}: {got} instead of {newest['id']} {newest['status']} ({plan})")
    assert wrong == [], f"{len(wrong)} of {CUSTOMERS} customers (seed {SEED}):\n" + "\n".join(wrong)
    assert Subscription.objects.count() == CUSTOMERS
