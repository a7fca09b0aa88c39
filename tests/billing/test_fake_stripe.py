"""The fake Stripe (tests/fakes/stripe.py) and the webhook signer, proven through billing.stripe_client and
the official `stripe` library. No database: these talk to loopback HTTP servers only."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest
import requests
import stripe
from django.test import override_settings

from billing import stripe_client
from billing.stripe_client import StripeRejectedError, StripeUnavailableError
from tests.fakes.server import FakeHandler, LoopbackServer
from tests.fakes.stripe import DAY, FakeStripe, decode_params
from tests.fakes.stripe_signing import sign, signed_headers

WEBHOOK_SECRET = "whsec_test_fake_endpoint"
SUCCESS_URL = "http://testserver/billing/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://testserver/billing/"


@dataclass
class WebhookReceiver(LoopbackServer):
    """An endpoint that verifies each delivery with the library, as our webhook view does."""

    events: list = field(default_factory=list)
    rejected: int = 0

    def __post_init__(self) -> None:
        self._serve()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(FakeHandler):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    event = stripe.Webhook.construct_event(payload, self.headers.get("Stripe-Signature"), WEBHOOK_SECRET)
                except stripe.SignatureVerificationError:
                    receiver.rejected += 1
                    return self._send(400, {"error": "bad signature"})
                receiver.events.append(event.to_dict())
                return self._send(200, {"received": True})

        return Handler


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe().start()
    with override_settings(STRIPE_SECRET_KEY=server.api_key, STRIPE_API_BASE=server.url, STRIPE_TIMEOUT_SECONDS=1):
        yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def receiver(receiver_server: WebhookReceiver, fake: FakeStripe) -> WebhookReceiver:
    """The receiver, emptied, with the fake delivering to it."""
    receiver_server.events.clear()
    receiver_server.rejected = 0
    fake.webhook_url, fake.webhook_secret = receiver_server.url, WEBHOOK_SECRET
    return receiver_server


def api(fake: FakeStripe, method: str, path: str, data: dict | None = None, **headers: str) -> requests.Response:
    """A raw call, to look at what the library hides (status, headers, error bodies)."""
    headers = {"Authorization": f"Bearer {fake.api_key}", **headers}
    return requests.request(method, fake.url + path, data=data, headers=headers, timeout=5)


def library(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(fake.api_key, base_addresses={"api": fake.url})


def calls(fake: FakeStripe, path: str) -> list[dict]:
    return [r for r in fake.requests if r["path"] == path]


def customer(user_id: int = 7, key: str = "customer:7", email: str = "ann@example.com") -> dict:
    return stripe_client.customer_create(email=email, name="Ann", user_id=user_id, idempotency_key=key)


def checkout(fake: FakeStripe, customer_id: str, key: str = "checkout:7:1") -> dict:
    return stripe_client.checkout_session_create(
        customer_id=customer_id,
        price_id=fake.price_id,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        user_id=7,
        plan="premium",
        idempotency_key=key,
    )


# --- the API through billing.stripe_client ---------------------------------------------------------
def test_customer_create_is_recorded_with_its_headers(fake: FakeStripe) -> None:
    created = customer()

    assert created["id"].startswith("cus_")
    assert (created["email"], created["name"], created["metadata"]) == ("ann@example.com", "Ann", {"user_id": "7"})
    assert fake.customers[created["id"]]["email"] == "ann@example.com"
    [call] = fake.requests
    assert (call["method"], call["path"]) == ("POST", "/v1/customers")
    assert call["params"] == {"email": "ann@example.com", "name": "Ann", "metadata": {"user_id": "7"}}
    assert call["idempotency_key"] == "customer:7"
    assert call["stripe_version"] == stripe.api_version == fake.api_version
    assert call["headers"]["Authorization"] == f"Bearer {fake.api_key}"


def test_same_key_replays_and_changed_parameters_are_rejected(fake: FakeStripe) -> None:
    first = customer()
    again = customer()

    assert again["id"] == first["id"]
    assert len(fake.customers) == 1
    with pytest.raises(StripeRejectedError):
        customer(email="bob@example.com")
    assert len(fake.customers) == 1


def test_replays_are_marked_and_conflicts_are_idempotency_errors(fake: FakeStripe) -> None:
    data = {"email": "ann@example.com", "metadata[user_id]": "7"}
    first = api(fake, "POST", "/v1/customers", data, **{"Idempotency-Key": "k1"})
    again = api(fake, "POST", "/v1/customers", data, **{"Idempotency-Key": "k1"})
    changed = api(fake, "POST", "/v1/customers", {**data, "name": "Ann"}, **{"Idempotency-Key": "k1"})
    elsewhere = api(fake, "POST", "/v1/billing_portal/sessions", {"customer": first.json()["id"]}, **{"Idempotency-Key": "k1"})

    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    for refused in (changed, elsewhere):
        assert refused.status_code == 400
        assert refused.json()["error"]["type"] == "idempotency_error"
    assert len(fake.customers) == 1
    assert not fake.portal_sessions


def test_checkout_create_then_retrieve_with_the_subscription_expanded(fake: FakeStripe) -> None:
    cus = customer()
    session = checkout(fake, cus["id"])

    assert session["url"] == f"{fake.url}/pay/{session['id']}"
    assert session["id"].startswith("cs_test_")
    assert (session["object"], session["mode"], session["status"], session["payment_status"]) == (
        "checkout.session",
        "subscription",
        "open",
        "unpaid",
    )
    assert (session["customer"], session["client_reference_id"], session["subscription"]) == (cus["id"], "7", None)
    assert session["metadata"] == {"user_id": "7", "plan": "premium"}
    [call] = calls(fake, "/v1/checkout/sessions")
    assert call["params"]["line_items"] == [{"price": fake.price_id, "quantity": "1"}]
    assert call["params"]["subscription_data"] == {"metadata": {"user_id": "7", "plan": "premium"}}
    assert call["idempotency_key"] == "checkout:7:1"

    paid = requests.post(session["url"], allow_redirects=False, timeout=5)
    assert paid.status_code == 303
    assert paid.headers["Location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", session["id"])

    done = stripe_client.checkout_session_retrieve(session["id"])
    assert calls(fake, f"/v1/checkout/sessions/{session['id']}")[-1]["query"] == {"expand": ["subscription"]}
    assert (done["status"], done["payment_status"], done["url"]) == ("complete", "paid", None)
    subscription = done["subscription"]
    assert isinstance(subscription, dict)
    assert (subscription["object"], subscription["status"], subscription["customer"]) == ("subscription", "active", cus["id"])
    assert subscription["metadata"] == {"user_id": "7", "plan": "premium"}
    assert "current_period_end" not in subscription
    [item] = subscription["items"]["data"]
    assert item["price"]["id"] == fake.price_id
    assert (item["current_period_start"], item["current_period_end"]) == (fake.now, fake.now + 30 * DAY)
    invoice = fake.invoices[subscription["latest_invoice"]]
    assert invoice["parent"]["subscription_details"]["subscription"] == subscription["id"]
    assert (invoice["status"], invoice["amount_paid"], invoice["billing_reason"]) == ("paid", 1000, "subscription_create")

    snapshot = stripe_client.subscription_retrieve(subscription["id"])
    assert (snapshot.id, snapshot.customer_id, snapshot.status) == (subscription["id"], cus["id"], "active")
    assert snapshot.price_id == fake.price_id
    assert snapshot.current_period_end == datetime.fromtimestamp(item["current_period_end"], UTC)


def test_portal_session_create(fake: FakeStripe) -> None:
    cus = customer()
    portal = stripe_client.portal_session_create(customer_id=cus["id"], return_url=CANCEL_URL, idempotency_key="portal:7:1")

    assert portal["url"] == f"{fake.url}/portal/{portal['id']}"
    assert (portal["object"], portal["customer"], portal["return_url"]) == ("billing_portal.session", cus["id"], CANCEL_URL)
    assert calls(fake, "/v1/billing_portal/sessions")[0]["idempotency_key"] == "portal:7:1"


def test_unknown_objects_are_rejected(fake: FakeStripe) -> None:
    with pytest.raises(StripeRejectedError):
        stripe_client.subscription_retrieve("sub_missing")
    with pytest.raises(StripeRejectedError):
        checkout(fake, "cus_missing")

    missing = api(fake, "GET", "/v1/subscriptions/sub_missing").json()["error"]
    assert (missing["type"], missing["code"], missing["param"]) == ("invalid_request_error", "resource_missing", "id")
    assert missing["message"] == "No such subscription: 'sub_missing'"
    no_price = api(fake, "POST", "/v1/checkout/sessions", {"mode": "subscription", "line_items[0][price]": "price_missing"})
    assert no_price.status_code == 400
    assert (no_price.json()["error"]["code"], no_price.json()["error"]["param"]) == ("resource_missing", "line_items[0][price]")


@pytest.mark.parametrize("outcome", [500, 503, "drop"])
def test_failures_are_retried_twice_with_the_same_key(fake: FakeStripe, outcome: int | str) -> None:
    fake.next_outcomes.extend([outcome] * 3)

    with pytest.raises(StripeUnavailableError):
        customer(key="customer:9")

    assert [c["idempotency_key"] for c in calls(fake, "/v1/customers")] == ["customer:9"] * 3
    assert not fake.customers


def test_a_hung_request_times_out_and_the_retry_succeeds(fake: FakeStripe) -> None:
    fake.next_outcomes.append("hang")

    created = customer()

    assert [c["idempotency_key"] for c in calls(fake, "/v1/customers")] == ["customer:7"] * 2
    assert list(fake.customers) == [created["id"]]


def test_a_lost_answer_is_replayed_on_retry(fake: FakeStripe) -> None:
    fake.next_outcomes.append("drop_after")

    created = customer()

    assert list(fake.customers) == [created["id"]]
    assert len(calls(fake, "/v1/customers")) == 2


def test_rate_limited_is_unavailable_without_a_retry(fake: FakeStripe) -> None:
    fake.next_outcomes.append(429)

    with pytest.raises(StripeUnavailableError):
        customer()

    assert len(calls(fake, "/v1/customers")) == 1


def test_a_wrong_api_key_is_rejected(fake: FakeStripe) -> None:
    with override_settings(STRIPE_SECRET_KEY="sk_test_not_the_right_key"), pytest.raises(StripeRejectedError):
        customer()

    unauthorised = requests.post(f"{fake.url}/v1/customers", data={"email": "a@example.com"}, timeout=5)
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["type"] == "invalid_request_error"
    assert not fake.customers


# --- the API's own behaviour -----------------------------------------------------------------------
def test_form_bodies_decode_to_nested_dicts_and_lists() -> None:
    pairs = [
        ("line_items[0][price]", "price_1"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_2"),
        ("metadata[0]", "kept as a key"),
        ("expand[]", "customer"),
        ("expand[]", "subscription"),
        ("mode", "subscription"),
    ]

    assert decode_params(pairs) == {
        "line_items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
        "metadata": {"0": "kept as a key"},
        "expand": ["customer", "subscription"],
        "mode": "subscription",
    }


def test_unknown_parameters_and_bad_expansions_are_rejected(fake: FakeStripe) -> None:
    cus = fake.customer_create(email="ann@example.com")
    unknown = api(fake, "POST", "/v1/billing_portal/sessions", {"customer": cus["id"], "colour": "red"})
    expanded = api(fake, "POST", "/v1/billing_portal/sessions", {"customer": cus["id"], "expand[0]": "customer"})
    not_expandable = api(fake, "GET", f"/v1/customers/{cus['id']}?expand[0]=email")

    assert unknown.status_code == 400
    assert (unknown.json()["error"]["code"], unknown.json()["error"]["param"]) == ("parameter_unknown", "colour")
    assert expanded.json()["customer"]["email"] == "ann@example.com"
    assert not_expandable.status_code == 400
    assert not_expandable.json()["error"]["message"] == "This property cannot be expanded (email)."


def test_an_expired_session_cannot_be_paid(fake: FakeStripe) -> None:
    session = checkout(fake, customer()["id"])

    expired = api(fake, "POST", f"/v1/checkout/sessions/{session['id']}/expire").json()

    assert (expired["status"], expired["url"]) == ("expired", None)
    assert requests.post(session["url"], allow_redirects=False, timeout=5).status_code == 409
    assert not fake.subscriptions


def test_subscriptions_list_events_and_the_helpers(fake: FakeStripe) -> None:
    cus = fake.customer_create(email="ann@example.com")["id"]
    old = fake.subscription_create(cus)
    new = fake.subscription_create(cus, metadata={"plan": "premium"})
    fake.subscription_delete(old["id"])
    past_due = fake.subscription_update(new["id"], status="past_due")
    client = library(fake)

    every = client.v1.subscriptions.list({"customer": cus, "status": "all"})
    current = client.v1.subscriptions.list({"customer": cus})

    assert [s.id for s in every.data] == [new["id"], old["id"]]
    assert every.has_more is False
    assert [s.id for s in current.data] == [new["id"]]
    assert past_due["status"] == "past_due"
    assert fake.subscriptions[old["id"]]["ended_at"] == fake.now
    canceling = fake.subscription_update(new["id"], cancel_at_period_end=True)
    assert canceling["cancel_at"] == canceling["items"]["data"][0]["current_period_end"]

    unpaid = fake.invoice_create(new["id"], paid=False)
    assert (unpaid["status"], unpaid["amount_due"], unpaid["amount_paid"]) == ("open", 1000, 0)
    assert unpaid["parent"]["subscription_details"] == {"metadata": {"plan": "premium"}, "subscription": new["id"]}
    fake.now += 30 * DAY
    renewed = fake.subscription_update(new["id"], current_period_start=fake.now, current_period_end=fake.now + 30 * DAY)
    cycle = fake.invoice_create(new["id"], paid=True)
    assert cycle["billing_reason"] == "subscription_cycle"
    assert (cycle["period_start"], cycle["period_end"]) == (fake.now - 30 * DAY, fake.now)
    assert cycle["lines"]["data"][0]["period"] == {"start": fake.now, "end": fake.now + 30 * DAY}

    first = fake.event("customer.subscription.updated", renewed)
    second = fake.event("invoice.paid", cycle)
    assert second["created"] > first["created"] >= fake.now
    assert (first["object"], first["livemode"], first["api_version"]) == ("event", False, fake.api_version)
    assert first["data"]["object"] == renewed
    retrieved = client.v1.events.retrieve(first["id"])
    assert (retrieved.id, retrieved.type, retrieved.created) == (first["id"], first["type"], first["created"])
    assert retrieved.data.object.id == new["id"]


def test_deliver_signs_events_the_library_accepts(fake: FakeStripe, receiver: WebhookReceiver) -> None:
    event = fake.event("customer.subscription.deleted", fake.subscription_create(fake.customer_create()["id"]))

    assert fake.deliver(event).status_code == 200
    assert fake.deliver(event, timestamp=int(time.time()) - 400).status_code == 400
    assert fake.deliver(event, receiver.url, secret="whsec_other").status_code == 400
    assert [(e["id"], e["data"]["object"]["id"]) for e in receiver.events] == [(event["id"], event["data"]["object"]["id"])]
    assert [d["status"] for d in fake.deliveries] == [200, 400, 400]


# --- the hosted pages ------------------------------------------------------------------------------
def test_checkout_page_pays_and_delivers_the_events_in_order(fake: FakeStripe, receiver: WebhookReceiver) -> None:
    session = checkout(fake, customer()["id"])

    page = requests.get(session["url"], timeout=5)
    assert page.status_code == 200
    assert "<title>Fake Stripe Checkout</title>" in page.text
    assert '<button id="pay"' in page.text
    assert f'<a id="cancel" href="{CANCEL_URL}">' in page.text
    assert "10.00 USD / month" in page.text

    assert requests.post(session["url"], allow_redirects=False, timeout=5).status_code == 303

    assert receiver.rejected == 0
    assert [e["type"] for e in receiver.events] == ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]
    completed, created, paid = (e["data"]["object"] for e in receiver.events)
    assert (completed["id"], completed["status"], completed["subscription"]) == (session["id"], "complete", created["id"])
    assert paid["parent"]["subscription_details"]["subscription"] == created["id"]
    assert [d["status"] for d in fake.deliveries] == [200, 200, 200]
    assert "no longer active" in requests.get(session["url"], timeout=5).text


def test_portal_page_cancels_at_period_end(fake: FakeStripe, receiver: WebhookReceiver) -> None:
    cus = customer()["id"]
    subscription = fake.subscription_create(cus)
    portal = stripe_client.portal_session_create(customer_id=cus, return_url=CANCEL_URL, idempotency_key="portal:7:1")

    page = requests.get(portal["url"], timeout=5)
    assert '<button id="cancel-plan"' in page.text
    assert f'<a id="return" href="{CANCEL_URL}">Return</a>' in page.text

    canceled = requests.post(f"{portal['url']}/cancel", allow_redirects=False, timeout=5)

    assert canceled.status_code == 303
    snapshot = stripe_client.subscription_retrieve(subscription["id"])
    assert (snapshot.status, snapshot.cancel_at_period_end) == ("active", True)
    state = fake.subscriptions[subscription["id"]]
    assert state["cancel_at"] == state["items"]["data"][0]["current_period_end"]
    [event] = receiver.events
    assert event["type"] == "customer.subscription.updated"
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert "will be canceled" in requests.get(portal["url"], timeout=5).text


# --- the signer ------------------------------------------------------------------------------------
PAYLOAD = json.dumps({"id": "evt_test", "object": "event", "type": "invoice.paid"}, indent=2).encode()


def test_signature_is_the_one_the_library_computes() -> None:
    stamp = int(time.time())

    assert sign(PAYLOAD, WEBHOOK_SECRET, stamp) == stripe.WebhookSignature.generate_signature_header(
        PAYLOAD.decode(), WEBHOOK_SECRET, timestamp=stamp
    )
    headers = signed_headers(PAYLOAD, WEBHOOK_SECRET, stamp)
    assert headers == {"Content-Type": "application/json", "Stripe-Signature": sign(PAYLOAD, WEBHOOK_SECRET, stamp)}


def test_signed_payload_is_accepted() -> None:
    event = stripe.Webhook.construct_event(PAYLOAD, sign(PAYLOAD, WEBHOOK_SECRET), WEBHOOK_SECRET)

    assert event.id == "evt_test"


@pytest.mark.parametrize(
    ("payload", "secret", "age"),
    [
        pytest.param(PAYLOAD.replace(b"invoice.paid", b"invoice.void"), WEBHOOK_SECRET, 0, id="tampered"),
        pytest.param(PAYLOAD, "whsec_wrong", 0, id="wrong-secret"),
        pytest.param(PAYLOAD, WEBHOOK_SECRET, 301, id="too-old"),
    ],
)
def test_bad_signatures_are_rejected(payload: bytes, secret: str, age: int) -> None:
    header = sign(PAYLOAD, secret, int(time.time()) - age)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET)
