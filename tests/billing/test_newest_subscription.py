"""Order of arrival does not regress a subscription, across a customer's subscriptions: the row holds the
newest one (Stripe's `created`, then the id), in its newest state, whatever order and repeats its events
arrive in."""

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.entitlements import entitlements
from billing.models import Invoice, StripeCustomer, StripeEvent, Subscription
from billing.services import subscription_apply
from billing.stripe_client import SubscriptionSnapshot
from tests.billing.support import paying_customer, post_event, process_received

pytestmark = pytest.mark.django_db

# The ways a subscription's life may go on after it is created (each step is an event Stripe sends).
MIDDLE_STEPS = [{"cancel_at_period_end": True}, {"status": "past_due"}, {"status": "active"}, {"cancel_at_period_end": False}]
FATES = ["canceled", "active", "past_due"]


@dataclass
class Life:
    """One subscription's planned life: its steps after creation, how it ends, and whether Stripe
    still has it afterwards (when it does not, the handlers apply the events' own copies)."""

    middle: list[dict]
    fate: str
    gone: bool


lives = st.builds(Life, middle=st.lists(st.sampled_from(MIDDLE_STEPS), max_size=2), fate=st.sampled_from(FATES), gone=st.booleans())


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("payer", "payer@example.com", "pw-123456789")


def _play(fake_stripe, member, plan: list[Life], interleaving: list[int], clock_steps: list[int]) -> tuple[list[dict], list[dict]]:
    """Live the subscriptions at the fake, their steps interleaved as drawn; returns the events Stripe
    sent (in the order it created them) and each subscription's final object."""
    customer = fake_stripe.customer_create(email=member.email, metadata={"user_id": str(member.pk)})
    StripeCustomer.objects.create(user=member, customer_id=customer["id"])
    metadata = {"user_id": str(member.pk), "plan": "premium"}
    steps = [["create", *life.middle, life.fate] for life in plan]
    ids: list[str | None] = [None] * len(plan)
    events = []
    for turn, index in enumerate(interleaving):
        fake_stripe.now += clock_steps[turn % len(clock_steps)]  # 0: two steps in the same second
        step = steps[index].pop(0)
        if step == "create":
            obj = fake_stripe.subscription_create(customer["id"], metadata=metadata)
            ids[index] = obj["id"]
            events.append(fake_stripe.event("customer.subscription.created", obj))
        elif step == "canceled":
            events.append(fake_stripe.event("customer.subscription.deleted", fake_stripe.subscription_delete(ids[index])))
        else:
            change = {"status": step} if isinstance(step, str) else step
            events.append(fake_stripe.event("customer.subscription.updated", fake_stripe.subscription_update(ids[index], **change)))
    finals = [dict(fake_stripe.subscriptions[sub_id]) for sub_id in ids]
    for life, sub_id in zip(plan, ids, strict=True):
        if life.gone:
            del fake_stripe.subscriptions[sub_id]  # 404 from now on: the events' copies are all there is
    return events, finals


def _row_state(member) -> tuple:
    row = Subscription.objects.get(user=member)
    return (
        row.stripe_subscription_id,
        row.stripe_status,
        row.status,
        row.cancel_at_period_end,
        row.current_period_end,
        entitlements(user_id=member.pk).plan,
    )


def _deliver(client, events: list[dict]) -> None:
    for event in events:
        assert post_event(client, event).status_code == 200
        assert set(process_received()) <= {"processed"}


def _forget() -> None:
    Subscription.objects.all().delete()
    StripeEvent.objects.all().delete()
    Invoice.objects.all().delete()


@dataclass
class Scenario:
    """The subscriptions' lives, how their steps interleave at Stripe (and how its clock moves between
    them), and the order the events then arrive in, repeats included (indices into the events)."""

    plan: list[Life]
    interleaving: list[int]
    clock_steps: list[int]
    arrival: list[int]


@st.composite
def scenarios(draw) -> Scenario:
    plan = draw(st.lists(lives, min_size=2, max_size=3), label="plan")
    # Each subscription's steps in order (one event each), the subscriptions' steps interleaved.
    slots = [index for index, life in enumerate(plan) for _ in range(len(life.middle) + 2)]
    interleaving = draw(st.permutations(slots), label="interleaving")
    clock_steps = draw(st.lists(st.sampled_from([0, 1, 40]), min_size=1, max_size=4), label="clock steps")  # 0: the same second
    arrival = list(draw(st.permutations(range(len(slots))), label="arrival"))
    repeats = draw(st.lists(st.integers(0, len(slots) - 1), max_size=5), label="repeats")
    for index in repeats:
        arrival.insert(draw(st.integers(0, len(arrival)), label="repeat at"), index)
    return Scenario(plan=plan, interleaving=interleaving, clock_steps=clock_steps, arrival=arrival)


# Two subscriptions, one after the other, both canceled; the older one's events last.
ROW_13 = Scenario(
    plan=[Life(middle=[], fate="canceled", gone=False), Life(middle=[], fate="canceled", gone=False)],
    interleaving=[0, 0, 1, 1],
    clock_steps=[40],
    arrival=[2, 3, 0, 1],
)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(scenario=ROW_13)
@given(scenario=scenarios())
def test_the_newest_subscription_wins_in_any_order_and_with_any_repeats(client, stripe_settings, fake_stripe, member, scenario):
    StripeCustomer.objects.filter(user=member).delete()
    _forget()
    events, finals = _play(fake_stripe, member, scenario.plan, scenario.interleaving, scenario.clock_steps)

    # The outcome of the sorted, deduplicated sequence...
    _deliver(client, sorted(events, key=lambda event: (event["created"], event["id"])))
    expected = _row_state(member)
    _forget()
    # ...equals that of any permutation with repeats.
    _deliver(client, [events[index] for index in scenario.arrival])

    assert _row_state(member) == expected
    assert StripeEvent.objects.count() == len(events)
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {StripeEvent.Status.PROCESSED}
    # And both are the newest subscription (Stripe's `created`, then the id) in its final state.
    newest = max(finals, key=lambda sub: (sub["created"], sub["id"]))
    row = Subscription.objects.get(user=member)
    assert (row.stripe_subscription_id, row.stripe_status) == (newest["id"], newest["status"])
    assert row.cancel_at_period_end == newest["cancel_at_period_end"]
    assert entitlements(user_id=member.pk).plan == ("free" if newest["status"] == "canceled" else "premium")


def test_a_late_event_of_an_older_canceled_subscription_does_not_replace_a_newer_canceled_one(client, stripe_settings, fake_stripe, member):
    """Issue 16, row 13: both ended; the older one's events come last."""
    old = paying_customer(fake_stripe, member)
    old_events = [fake_stripe.event("customer.subscription.created", old)]
    old_events.append(fake_stripe.event("customer.subscription.deleted", fake_stripe.subscription_delete(old["id"])))
    fake_stripe.now += 60
    new = fake_stripe.subscription_create(old["customer"], metadata={"user_id": str(member.pk), "plan": "premium"})
    new_events = [fake_stripe.event("customer.subscription.created", new)]
    new_events.append(fake_stripe.event("customer.subscription.deleted", fake_stripe.subscription_delete(new["id"])))

    _deliver(client, [*new_events, *old_events])

    row = Subscription.objects.get(user=member)
    assert (row.stripe_subscription_id, row.status) == (new["id"], Subscription.Status.CANCELED)
    assert row.stripe_created == datetime.fromtimestamp(new["created"], UTC)
    assert entitlements(user_id=member.pk).plan == "free"


def test_a_newer_subscription_past_due_gets_its_own_grace_period(member):
    """Not the one the older subscription's failure started."""
    first, second = _snapshot(1, member.pk), _snapshot(2, member.pk)
    seen = timezone.now()
    subscription_apply(snapshot=replace(first, status="past_due"), observed_at=seen, user_id=member.pk)
    subscription_apply(snapshot=replace(second, status="past_due"), observed_at=seen + timedelta(days=3), user_id=member.pk)

    row = Subscription.objects.get(user=member)
    assert (row.stripe_subscription_id, row.status) == ("sub_race2", Subscription.Status.PAST_DUE)
    assert row.grace_until == seen + timedelta(days=3 + 7)


@pytest.mark.parametrize(
    ("winner", "loser"),
    [
        ({"status": "canceled"}, {"status": "active"}),
        ({"status": "active", "period_days": 60}, {"status": "active", "period_days": 30}),
        ({"status": "past_due", "cancel_at_period_end": True}, {"status": "past_due"}),
    ],
)
def test_two_states_of_one_subscription_seen_at_the_same_instant_settle_the_same_way_in_either_order(member, winner, loser):
    """Two events of one second whose copies are applied (Stripe no longer has the subscription):
    the final status, then the later period, then the other fields decide, never the arrival."""
    seen = timezone.now()

    def state(fields: dict) -> SubscriptionSnapshot:
        fields = dict(fields)
        period = seen + timedelta(days=fields.pop("period_days", 30))
        return replace(_snapshot(1, member.pk), current_period_end=period, **fields)

    outcomes = []
    for order in ([winner, loser], [loser, winner]):
        Subscription.objects.filter(user=member).delete()
        for fields in order:
            subscription_apply(snapshot=state(fields), observed_at=seen, user_id=member.pk)
        row = Subscription.objects.get(user=member)
        outcomes.append((row.stripe_status, row.current_period_end, row.cancel_at_period_end))

    expected = state(winner)
    assert outcomes == [(expected.status, expected.current_period_end, expected.cancel_at_period_end)] * 2


def _snapshot(number: int, user_id: int) -> SubscriptionSnapshot:
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=number)
    return SubscriptionSnapshot(
        id=f"sub_race{number}",
        customer_id="cus_race",
        status="canceled",
        price_id="",
        current_period_end=created + timedelta(days=30),
        cancel_at_period_end=False,
        metadata={"user_id": str(user_id), "plan": "premium"},
        created=created,
    )


def _apply_at_once(snapshots: list[SubscriptionSnapshot], user_id: int) -> list[Exception]:
    """Apply the snapshots from threads of their own (a connection each), released at one moment."""
    barrier, errors = threading.Barrier(len(snapshots)), []

    def apply(snapshot: SubscriptionSnapshot) -> None:
        try:
            barrier.wait()
            subscription_apply(snapshot=snapshot, observed_at=timezone.now(), user_id=user_id)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=apply, args=(snapshot,)) for snapshot in snapshots]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held", ["no row yet", "the oldest held"])
def test_workers_applying_one_users_subscriptions_at_the_same_moment_end_on_the_newest(member, held):
    """Four workers apply four subscriptions of one user at once, over and over, with no row yet (all
    insert) or the oldest held (all update): whoever commits last, the row ends on the newest, and
    no worker fails."""
    snapshots = [_snapshot(number, member.pk) for number in range(4)]
    for attempt in range(30):
        Subscription.objects.filter(user=member).delete()
        if held == "the oldest held":
            subscription_apply(snapshot=snapshots[0], observed_at=timezone.now(), user_id=member.pk)

        errors = _apply_at_once(snapshots[::-1], member.pk)

        assert errors == [], f"attempt {attempt}"
        assert Subscription.objects.get(user=member).stripe_subscription_id == "sub_race3", f"attempt {attempt}"


@pytest.mark.django_db(transaction=True)
def test_the_migration_takes_when_stripe_created_each_held_subscription_from_the_stored_events(member):
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("billing", "0005_webhooks")], [("billing", "0006_subscription_stripe_created")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    plan = old.get_model("billing", "Plan").objects.get(slug="premium")
    other = old.get_model("accounts", "User").objects.create(username="other", email="other@example.com")
    rows = old.get_model("billing", "Subscription").objects
    rows.create(user_id=member.pk, plan=plan, source="stripe", stripe_subscription_id="sub_known", stripe_status="active")
    rows.create(user_id=other.pk, plan=plan, source="stripe", stripe_subscription_id="sub_unknown", stripe_status="active")
    obj = {"id": "sub_known", "object": "subscription", "created": 1_767_225_600}
    old.get_model("billing", "StripeEvent").objects.create(
        id="evt_1", type="customer.subscription.updated", created=timezone.now(), payload={"data": {"object": obj}}
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    held = dict(new.get_model("billing", "Subscription").objects.values_list("stripe_subscription_id", "stripe_created"))
    # The later migrations back, for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert held == {"sub_known": datetime(2026, 1, 1, tzinfo=UTC), "sub_unknown": None}
