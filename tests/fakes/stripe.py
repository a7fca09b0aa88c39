"""A local Stripe: the API calls billing/stripe_client.py makes, hosted Checkout and portal pages, signed webhooks.

API (under /v1, form-encoded like Stripe's; `expand[]` works on every answer):

* POST /v1/customers, GET /v1/customers/{id}
* POST /v1/checkout/sessions (mode=subscription), GET /v1/checkout/sessions/{id}, POST .../{id}/expire
* POST /v1/billing_portal/sessions
* GET /v1/subscriptions (customer, status, limit, starting_after), GET /v1/subscriptions/{id}
* GET /v1/invoices/{id}, GET /v1/events/{id}

Faithful to Stripe's documented behaviour:

* bracket-notation form bodies (`line_items[0][price]=...`) read as nested dicts and lists, values as strings;
* `Authorization: Bearer <key>` (or Basic with the key as user name) checked against `api_key`, else 401;
* errors as `{"error": {"type", "message", "code", "param", "doc_url"}}`: 404 `resource_missing` for an unknown
  id in the path, 400 `resource_missing` for one in the parameters, 400 `parameter_missing` / `parameter_unknown`;
* idempotency: a POST's Idempotency-Key with the same endpoint and parameters replays the first answer
  (`Idempotent-Replayed: true`); with others it is a 400 `idempotency_error`;
* objects shaped as in the API version the installed library pins (`stripe.api_version`): a subscription's
  period is on `items.data[]` (`current_period_start/end`), an invoice's subscription on
  `parent.subscription_details.subscription`, a subscription invoice's own `period_start/end` looks back one
  period (the service period is on its lines); a session's `url` is null once it is complete or expired;
* webhook bodies are pretty-printed JSON signed as Stripe signs them (see stripe_signing.py).

Simplified:

* parameter lists are narrower than Stripe's: what the fake does not implement is `parameter_unknown`;
* one line item per session, prices are recurring, a period is `period_days` long (not a calendar month);
* paying on the hosted page always succeeds; there are no payment methods, taxes, discounts, trials or prorations;
* only successful answers are kept for idempotency (Stripe keeps any answer of a request that began
  executing), and requests with the same key run one after the other (Stripe answers 409 to one in flight);
* events are stored and delivered only where said below, once, synchronously, with no retries;
* `hosted_invoice_url` and `invoice_pdf` point at the fake but are not served.

Faults: each `next_outcomes` entry is used up by one API request (the hosted pages are not affected),
before anything is done: an int status (429 `rate_limit`, 5xx `api_error`; no `Stripe-Should-Retry`
header, so the library retries 5xx), "hang" (held `hang_seconds`, then closed unanswered), "drop"
(closed unanswered) or "drop_after" (done, then closed unanswered: the answer is lost, not the work).
"""

import base64
import copy
import html
import json
import re
import secrets
import string
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
import stripe
from requests import RequestException, Response

from tests.fakes.server import FakeHandler, LoopbackServer
from tests.fakes.stripe_signing import signed_headers

DAY = 86400
ALPHANUMERIC = string.ascii_letters + string.digits
WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
SUBSCRIPTION_STATUSES = ("active", "canceled", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid")
# Subscriptions the portal can cancel.
LIVE_STATUSES = ("active", "trialing", "past_due")
# GET /v1/{resource}/{id}: the store (an attribute) and the object name used in "No such ..." messages.
RETRIEVABLE = {
    "customers": ("customers", "customer"),
    "checkout/sessions": ("checkout_sessions", "checkout.session"),
    "subscriptions": ("subscriptions", "subscription"),
    "invoices": ("invoices", "invoice"),
    "events": ("events", "event"),
}
RETRIEVE_PATH = re.compile(r"/v1/(customers|checkout/sessions|subscriptions|invoices|events)/([^/]+)")
CUSTOMER_PARAMS = {"email", "name", "description", "phone", "metadata"}
CHECKOUT_PARAMS = {
    "mode",
    "customer",
    "customer_email",
    "line_items",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "metadata",
    "subscription_data",
}
PORTAL_PARAMS = {"customer", "return_url"}
LIST_PARAMS = {"customer", "status", "limit", "starting_after"}
_KEY_PART = re.compile(r"\[([^\]]*)\]")


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))


def decode_params(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding as nested data: `a[b][0][c]=v` is {"a": {"b": [{"c": "v"}]}}; `a[]=v` appends."""
    root: dict = {}
    for key, value in pairs:
        name = key.split("[", 1)[0]
        parts = [name, *_KEY_PART.findall(key[len(name) :])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part or str(len(node)), {})
        node[parts[-1] or str(len(node))] = value
    return _listify(root)


def _listify(node: object, key: str = "") -> object:
    """Dicts keyed 0..n become lists (not metadata, whose keys are free text)."""
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v, k) for k, v in node.items()}
    if key != "metadata" and items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class _ApiError(Exception):
    """An error answer, in Stripe's shape."""

    def __init__(
        self, status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.error: dict = {"type": kind, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param

    def body(self) -> bytes:
        return json.dumps({"error": self.error}, indent=2).encode()


def _fault_error(status: int) -> _ApiError:
    if status == 429:
        message = "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
        return _ApiError(429, message, code="rate_limit")
    return _ApiError(status, "An unknown error occurred", kind="api_error")


def _allow(params: dict, allowed: set[str], prefix: str = "") -> None:
    for name in params:
        if name not in allowed and not (name == "expand" and not prefix):
            shown = f"{prefix}[{name}]" if prefix else name
            raise _ApiError(400, f"Received unknown parameter: {shown}", code="parameter_unknown", param=shown)


def _require(params: dict, name: str, shown: str = "") -> str:
    value = params.get(name)
    if value in (None, ""):
        raise _ApiError(400, f"Missing required param: {shown or name}.", code="parameter_missing", param=shown or name)
    return value


def _redacted(key: str) -> str:
    return key[:8] + "*" * (len(key) - 12) + key[-4:] if len(key) > 12 else "*" * len(key)


@dataclass
class FakeStripe(LoopbackServer):
    """Stripe's API as listed in the module docstring, with its hosted pages and webhooks."""

    api_key: str = "sk_test_fake"
    api_version: str = stripe.api_version
    # Hosted-page actions deliver signed events here when both are set.
    webhook_url: str = ""
    webhook_secret: str = ""
    # How long a "hang" fault holds a request (past the client's timeout).
    hang_seconds: float = 5.0
    period_days: int = 30
    # The id of the price that exists from the start (10.00 USD a month, the premium plan's price).
    price_id: str = "price_fake_premium_monthly"
    # The fake's clock (Unix seconds) for `created` and periods; tests may advance it.
    now: int = field(default_factory=lambda: int(time.time()))
    # Faults for the next API requests (see the module docstring).
    next_outcomes: deque = field(default_factory=deque)
    # Every HTTP request, and every webhook delivery (event, type, url, status: None when unanswered).
    requests: list = field(default_factory=list)
    deliveries: list = field(default_factory=list)
    # The state, by id.
    customers: dict = field(default_factory=dict)
    prices: dict = field(default_factory=dict)
    checkout_sessions: dict = field(default_factory=dict)
    portal_sessions: dict = field(default_factory=dict)
    subscriptions: dict = field(default_factory=dict)
    invoices: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)

    poll_interval = 0.05

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        # Idempotency-Key -> (method, path, params, body, request id) of the first successful answer.
        self._idempotent: dict[str, tuple[str, str, dict, bytes, str]] = {}
        # Checkout session id -> what paying it subscribes to (price, quantity, subscription metadata).
        self._checkout_orders: dict[str, dict] = {}
        self._portal_configuration = new_id("bpc_")
        self._last_event_created = 0
        self.price_create(1000, id=self.price_id)
        self._serve()

    def stop(self) -> None:
        self._stopping.set()  # ends held "hang" requests
        super().stop()

    # --- state helpers (also what the API does) -------------------------------------------------
    def price_create(self, unit_amount: int, currency: str = "usd", interval: str = "month", *, id: str | None = None) -> dict:
        """A recurring price (amount in the currency's smallest unit), with a chosen `id` or a new one."""
        price = {
            "id": id or new_id("price_"),
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": self.now,
            "currency": currency,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": new_id("prod_", 14),
            "recurring": {"interval": interval, "interval_count": 1, "meter": None, "trial_period_days": None, "usage_type": "licensed"},
            "tax_behavior": "unspecified",
            "type": "recurring",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
        with self._lock:
            self.prices[price["id"]] = price
        return copy.deepcopy(price)

    def customer_create(self, email: str | None = None, name: str | None = None, **fields: object) -> dict:
        """`fields`: description, phone, metadata."""
        customer = {
            "id": new_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self.now,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": fields.get("description"),
            "email": email,
            "invoice_prefix": new_id("", 8).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None},
            "livemode": False,
            "metadata": dict(fields.get("metadata") or {}),
            "name": name,
            "phone": fields.get("phone"),
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        with self._lock:
            self.customers[customer["id"]] = customer
        return copy.deepcopy(customer)

    def subscription_create(
        self, customer: str, price: str | None = None, status: str = "active", *, quantity: int = 1, metadata: dict | None = None
    ) -> dict:
        """A subscription starting now on the fake's clock, for one period of `period_days`."""
        with self._lock:
            price_object = self.prices[price or self.price_id]
            sub_id = new_id("sub_")
            start, end = self.now, self.now + self.period_days * DAY
            item = {
                "id": new_id("si_", 14),
                "object": "subscription_item",
                "created": start,
                "current_period_end": end,
                "current_period_start": start,
                "discounts": [],
                "metadata": {},
                "price": copy.deepcopy(price_object),
                "quantity": quantity,
                "subscription": sub_id,
                "tax_rates": [],
            }
            subscription = {
                "id": sub_id,
                "object": "subscription",
                "billing_cycle_anchor": start,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
                "collection_method": "charge_automatically",
                "created": start,
                "currency": price_object["currency"],
                "customer": customer,
                "default_payment_method": None,
                "description": None,
                "discounts": [],
                "ended_at": None,
                "items": {
                    "object": "list",
                    "data": [item],
                    "has_more": False,
                    "total_count": 1,
                    "url": f"/v1/subscription_items?subscription={sub_id}",
                },
                "latest_invoice": None,
                "livemode": False,
                "metadata": dict(metadata or {}),
                "pause_collection": None,
                "start_date": start,
                "status": status,
                "test_clock": None,
                "trial_end": None,
                "trial_start": None,
            }
            self.subscriptions[sub_id] = subscription
            return copy.deepcopy(subscription)

    def subscription_update(self, sub_id: str, **changes: object) -> dict:
        """Set fields: root ones (status, cancel_at_period_end, metadata, ...), or the item's
        `current_period_start`, `current_period_end` and `price` (an id). cancel_at_period_end=True
        also sets cancel_at (to the period end) and canceled_at, as Stripe does; False clears them."""
        with self._lock:
            subscription = self.subscriptions[sub_id]
            item = subscription["items"]["data"][0]
            for name, value in changes.items():
                if name in ("current_period_start", "current_period_end"):
                    item[name] = value
                elif name == "price":
                    item["price"] = copy.deepcopy(self.prices[value])
                elif name in subscription:
                    subscription[name] = value
                else:
                    raise TypeError(f"a subscription has no field {name!r}")
            if "cancel_at_period_end" in changes:
                canceling = bool(changes["cancel_at_period_end"])
                subscription["cancel_at"] = item["current_period_end"] if canceling else None
                subscription["canceled_at"] = self.now if canceling else None
                subscription["cancellation_details"]["reason"] = "cancellation_requested" if canceling else None
            return copy.deepcopy(subscription)

    def subscription_delete(self, sub_id: str) -> dict:
        """Cancel now (what DELETE /v1/subscriptions/{id} does): status canceled, ended."""
        with self._lock:
            subscription = self.subscriptions[sub_id]
            subscription.update(status="canceled", canceled_at=self.now, ended_at=self.now)
            subscription["cancellation_details"]["reason"] = "cancellation_requested"
            return copy.deepcopy(subscription)

    def invoice_create(self, sub_id: str, paid: bool) -> dict:
        """The invoice of the subscription's current period (paid, or open after a failed attempt);
        it becomes the subscription's latest_invoice."""
        with self._lock:
            subscription = self.subscriptions[sub_id]
            item = subscription["items"]["data"][0]
            start, end = item["current_period_start"], item["current_period_end"]
            first = subscription["latest_invoice"] is None
            amount = item["price"]["unit_amount"] * item["quantity"]
            invoice_id = new_id("in_")
            line = {
                "id": new_id("il_"),
                "object": "line_item",
                "amount": amount,
                "currency": subscription["currency"],
                "description": f"{item['quantity']} x subscription",
                "invoice": invoice_id,
                "livemode": False,
                "metadata": dict(subscription["metadata"]),
                "parent": {
                    "type": "subscription_item_details",
                    "invoice_item_details": None,
                    "subscription_item_details": {
                        "invoice_item": None,
                        "proration": False,
                        "proration_details": {"credited_items": None},
                        "subscription": sub_id,
                        "subscription_item": item["id"],
                    },
                },
                "period": {"end": end, "start": start},
                "pricing": {
                    "type": "price_details",
                    "price_details": {"price": item["price"]["id"], "product": item["price"]["product"]},
                    "unit_amount_decimal": item["price"]["unit_amount_decimal"],
                },
                "quantity": item["quantity"],
            }
            invoice = {
                "id": invoice_id,
                "object": "invoice",
                "amount_due": amount,
                "amount_paid": amount if paid else 0,
                "amount_remaining": 0 if paid else amount,
                "attempt_count": 1,
                "attempted": True,
                "billing_reason": "subscription_create" if first else "subscription_cycle",
                "collection_method": "charge_automatically",
                "created": self.now,
                "currency": subscription["currency"],
                "customer": subscription["customer"],
                "customer_email": self.customers.get(subscription["customer"], {}).get("email"),
                "hosted_invoice_url": f"{self.url}/invoice/{invoice_id}",
                "invoice_pdf": f"{self.url}/invoice/{invoice_id}/pdf",
                "lines": {"object": "list", "data": [line], "has_more": False, "total_count": 1, "url": f"/v1/invoices/{invoice_id}/lines"},
                "livemode": False,
                "metadata": {},
                "number": f"FAKE-{len(self.invoices) + 1:04d}",
                "parent": {
                    "type": "subscription_details",
                    "quote_details": None,
                    "subscription_details": {"metadata": dict(subscription["metadata"]), "subscription": sub_id},
                },
                # Stripe's invoice period looks back one period (nothing before the first one).
                "period_end": start,
                "period_start": start if first else start - self.period_days * DAY,
                "status": "paid" if paid else "open",
                "status_transitions": {
                    "finalized_at": self.now,
                    "marked_uncollectible_at": None,
                    "paid_at": self.now if paid else None,
                    "voided_at": None,
                },
                "subtotal": amount,
                "total": amount,
            }
            self.invoices[invoice_id] = invoice
            subscription["latest_invoice"] = invoice_id
            return copy.deepcopy(invoice)

    def event(self, type: str, obj: dict, *, previous_attributes: dict | None = None) -> dict:
        """A stored event about a copy of `obj` (GET /v1/events/{id} finds it); `created` strictly increases."""
        with self._lock:
            created = max(self.now, self._last_event_created + 1)
            self._last_event_created = created
            data: dict = {"object": copy.deepcopy(obj)}
            if previous_attributes is not None:
                data["previous_attributes"] = previous_attributes
            event = {
                "id": new_id("evt_"),
                "object": "event",
                "api_version": self.api_version,
                "created": created,
                "data": data,
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type,
            }
            self.events[event["id"]] = event
            return copy.deepcopy(event)

    def deliver(self, event: dict, url: str | None = None, *, secret: str | None = None, timestamp: int | None = None) -> Response:
        """POST the event as Stripe does, signed now (wall time, not the fake's clock) unless `timestamp` is given."""
        target = url or self.webhook_url
        payload = json.dumps(event, indent=2).encode()
        headers = {**signed_headers(payload, secret or self.webhook_secret, timestamp), "User-Agent": WEBHOOK_USER_AGENT}
        record = {"event": event["id"], "type": event["type"], "url": target, "status": None}
        self.deliveries.append(record)
        response = requests.post(target, data=payload, headers=headers, timeout=10)
        record["status"] = response.status_code
        return response

    def _deliver_all(self, events: list[dict]) -> None:
        """Deliver in order if a webhook is set; an endpoint that cannot be reached is recorded, not retried."""
        if not (self.webhook_url and self.webhook_secret):
            return
        for event in events:
            try:
                self.deliver(event)
            except RequestException:
                continue

    def pay(self, session_id: str) -> dict:
        """What the hosted Checkout page's Pay button does: an active subscription and its paid invoice,
        the session complete, then checkout.session.completed, customer.subscription.created and invoice.paid.
        Returns the session."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}")
            order = self._checkout_orders[session_id]
            customer = session["customer"] or self.customer_create(email=session["customer_email"])["id"]
            sub_id = self.subscription_create(customer, order["price"], quantity=order["quantity"], metadata=order["metadata"])["id"]
            invoice = self.invoice_create(sub_id, paid=True)
            session.update(status="complete", payment_status="paid", customer=customer, subscription=sub_id, url=None)
            events = [
                self.event("checkout.session.completed", session),
                self.event("customer.subscription.created", self.subscriptions[sub_id]),
                self.event("invoice.paid", invoice),
            ]
            completed = copy.deepcopy(session)
        self._deliver_all(events)
        return completed

    def portal_cancel(self, portal_session_id: str) -> dict | None:
        """What the portal's "Cancel plan" button does: cancel the customer's live subscription at period end,
        then customer.subscription.updated. Returns the subscription (None when there is none to cancel)."""
        with self._lock:
            customer = self.portal_sessions[portal_session_id]["customer"]
            subscription = self._live_subscription(customer)
            if subscription is None or subscription["cancel_at_period_end"]:
                return None
            previous = {
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"reason": None},
            }
            updated = self.subscription_update(subscription["id"], cancel_at_period_end=True)
            event = self.event("customer.subscription.updated", updated, previous_attributes=previous)
        self._deliver_all([event])
        return updated

    def _live_subscription(self, customer: str) -> dict | None:
        return next((s for s in reversed(self.subscriptions.values()) if s["customer"] == customer and s["status"] in LIVE_STATUSES), None)

    # --- the API ---------------------------------------------------------------------------------
    def _answer(self, method: str, path: str, params: dict, headers: Message) -> tuple[int, bytes, dict]:
        """(status, body, headers) of one API request."""
        request_id = new_id("req_", 14)
        out = {"Request-Id": request_id, "Stripe-Version": self.api_version}
        key = headers.get("Idempotency-Key") if method == "POST" else None
        if key:
            out["Idempotency-Key"] = key
        try:
            self._authenticate(headers.get("Authorization"))
            with self._lock:
                if key and key in self._idempotent:
                    replayed = {"Idempotent-Replayed": "true", "Original-Request": self._idempotent[key][4]}
                    return 200, self._replay(key, method, path, params), {**out, **replayed}
                body = json.dumps(self._dispatch(method, path, params), indent=2).encode()
                if key:
                    self._idempotent[key] = (method, path, params, body, request_id)
        except _ApiError as exc:
            return exc.status, exc.body(), out
        return 200, body, out

    def _replay(self, key: str, method: str, path: str, params: dict) -> bytes:
        first_method, first_path, first_params, body, _ = self._idempotent[key]
        retry = f"Try using a key other than '{key}' if you meant to execute a different request."
        if (first_method, first_path) != (method, path):
            endpoints = f"'{first_method} {first_path}' vs '{method} {path}'"
            raise _ApiError(
                400,
                f"Keys for idempotent requests can only be used for the same endpoint they were first used for ({endpoints}). {retry}",
                kind="idempotency_error",
            )
        if first_params != params:
            raise _ApiError(
                400,
                f"Keys for idempotent requests can only be used with the same parameters they were first used with. {retry}",
                kind="idempotency_error",
            )
        return body

    def _authenticate(self, header: str | None) -> None:
        scheme, _, credential = (header or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                credential = base64.b64decode(credential).decode().partition(":")[0]
            except ValueError:  # not base64 of UTF-8
                credential = "?"
        if not credential:
            raise _ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth "
                "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.",
            )
        if credential != self.api_key:
            raise _ApiError(401, f"Invalid API Key provided: {_redacted(credential)}")

    def _dispatch(self, method: str, path: str, params: dict) -> dict:
        expand = params.get("expand", [])
        if not isinstance(expand, list):
            raise _ApiError(400, "Invalid array", param="expand")
        if method == "POST" and path == "/v1/customers":
            _allow(params, CUSTOMER_PARAMS)
            answer = self.customer_create(**{name: value for name, value in params.items() if name != "expand"})
        elif method == "POST" and path == "/v1/checkout/sessions":
            answer = self._checkout_create(params)
        elif method == "POST" and (match := re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", path)):
            answer = self._checkout_expire(unquote(match[1]))
        elif method == "POST" and path == "/v1/billing_portal/sessions":
            answer = self._portal_create(params)
        elif method == "GET" and path == "/v1/subscriptions":
            answer = self._subscriptions_list(params)
        elif method == "GET" and (match := RETRIEVE_PATH.fullmatch(path)):
            _allow(params, set())
            store, name = RETRIEVABLE[match[1]]
            object_id = unquote(match[2])
            if object_id not in getattr(self, store):
                raise _ApiError(404, f"No such {name}: '{object_id}'", code="resource_missing", param="id")
            answer = getattr(self, store)[object_id]
        else:
            message = f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            raise _ApiError(404, message)
        answer = copy.deepcopy(answer)
        for path_text in expand:
            self._expand(answer, path_text.split("."), path_text)
        return answer

    def _expand(self, node: object, path: list[str], full: str) -> None:
        """Replace the id at `path` by its object (through lists, e.g. `data.latest_invoice`)."""
        head, rest = path[0], path[1:]
        if not isinstance(node, dict) or head not in node:
            raise _ApiError(400, f"This property cannot be expanded ({full}).", param="expand")
        value = node[head]
        if isinstance(value, str):
            target = next((store[value] for store in self._stores() if value in store), None)
            if target is None:
                raise _ApiError(400, f"This property cannot be expanded ({full}).", param="expand")
            value = node[head] = copy.deepcopy(target)
        if rest and value is not None:
            for child in value if isinstance(value, list) else [value]:
                self._expand(child, rest, full)

    def _stores(self) -> tuple[dict, ...]:
        return (self.customers, self.prices, self.checkout_sessions, self.subscriptions, self.invoices, self.events)

    def _customer(self, customer_id: str) -> dict:
        """A customer named in the parameters (400 when unknown, as Stripe answers)."""
        if customer_id not in self.customers:
            raise _ApiError(400, f"No such customer: '{customer_id}'", code="resource_missing", param="customer")
        return self.customers[customer_id]

    def _checkout_create(self, params: dict) -> dict:
        _allow(params, CHECKOUT_PARAMS)
        if _require(params, "mode") != "subscription":
            raise _ApiError(400, "This fake implements Checkout in mode=subscription only.", param="mode")
        if params.get("customer"):
            self._customer(params["customer"])
        line_items = params.get("line_items")
        if not isinstance(line_items, list) or not line_items:
            raise _ApiError(400, "Missing required param: line_items.", code="parameter_missing", param="line_items")
        if len(line_items) != 1:
            raise _ApiError(400, "This fake implements one line item per session.", param="line_items")
        _allow(line_items[0], {"price", "quantity"}, "line_items[0]")
        price_id = _require(line_items[0], "price", "line_items[0][price]")
        if price_id not in self.prices:
            raise _ApiError(400, f"No such price: '{price_id}'", code="resource_missing", param="line_items[0][price]")
        quantity = line_items[0].get("quantity", "1")
        if not str(quantity).isdigit() or int(quantity) < 1:
            raise _ApiError(400, "Invalid positive integer", code="parameter_invalid_integer", param="line_items[0][quantity]")
        subscription_data = params.get("subscription_data", {})
        _allow(subscription_data, {"metadata"}, "subscription_data")
        price = self.prices[price_id]
        session_id = new_id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": price["unit_amount"] * int(quantity),
            "amount_total": price["unit_amount"] * int(quantity),
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": self.now,
            "currency": price["currency"],
            "customer": params.get("customer"),
            "customer_email": params.get("customer_email"),
            "expires_at": self.now + DAY,
            "invoice": None,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "mode": "subscription",
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": params.get("success_url"),
            "ui_mode": "hosted",
            "url": f"{self.url}/pay/{session_id}",
        }
        self.checkout_sessions[session_id] = session
        self._checkout_orders[session_id] = {
            "price": price_id,
            "quantity": int(quantity),
            "metadata": subscription_data.get("metadata", {}),
        }
        return session

    def _checkout_expire(self, session_id: str) -> dict:
        session = self.checkout_sessions.get(session_id)
        if session is None:
            raise _ApiError(404, f"No such checkout.session: '{session_id}'", code="resource_missing", param="session")
        if session["status"] != "open":
            raise _ApiError(400, 'Only Checkout Sessions with a status in ["open"] can be expired.')
        session.update(status="expired", url=None)
        return session

    def _portal_create(self, params: dict) -> dict:
        _allow(params, PORTAL_PARAMS)
        customer = self._customer(_require(params, "customer"))["id"]
        session_id = new_id("bps_")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": self._portal_configuration,
            "created": self.now,
            "customer": customer,
            "flow": None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": params.get("return_url"),
            "url": f"{self.url}/portal/{session_id}",
        }
        self.portal_sessions[session_id] = session
        return session

    def _subscriptions_list(self, params: dict) -> dict:
        """Newest first; without `status`, all but canceled ones (Stripe's default)."""
        _allow(params, LIST_PARAMS)
        status = params.get("status")
        if status is not None and status not in (*SUBSCRIPTION_STATUSES, "all", "ended"):
            raise _ApiError(400, f"Invalid status: must be one of {', '.join((*SUBSCRIPTION_STATUSES, 'all', 'ended'))}", param="status")
        limit = params.get("limit", "10")
        if not str(limit).isdigit() or not 1 <= int(limit) <= 100:
            raise _ApiError(400, "Invalid integer: limit must be between 1 and 100", param="limit")
        newest_first = sorted(self.subscriptions.values(), key=lambda s: s["created"])[::-1]  # ties: the later one first
        matching = [
            s
            for s in newest_first
            if params.get("customer") in (None, s["customer"])
            and (
                (status is None and s["status"] != "canceled")
                or status in ("all", s["status"])
                or (status == "ended" and s["status"] in ("canceled", "incomplete_expired"))
            )
        ]
        if after := params.get("starting_after"):
            ids = [s["id"] for s in matching]
            if after not in ids:
                raise _ApiError(400, f"No such subscription: '{after}'", code="resource_missing", param="starting_after")
            matching = matching[ids.index(after) + 1 :]
        return {"object": "list", "data": matching[: int(limit)], "has_more": len(matching) > int(limit), "url": "/v1/subscriptions"}

    # --- hosted pages ----------------------------------------------------------------------------
    def _page(self, method: str, path: str) -> tuple[int, str, dict]:
        """(status, HTML, headers) of the Checkout and portal pages and their buttons."""
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if segments[0] == "pay" and len(segments) == 2 and segments[1] in self.checkout_sessions:
            return self._checkout_page(method, segments[1])
        if segments[0] == "portal" and segments[1:2] and segments[1] in self.portal_sessions:
            if method == "POST" and segments[2:] == ["cancel"]:
                self.portal_cancel(segments[1])
                return 303, "", {"Location": f"/portal/{segments[1]}"}
            if method == "GET" and len(segments) == 2:
                return 200, self._portal_html(segments[1]), {}
        return 404, _html("Not found", "<p>This page could not be found.</p>"), {}

    def _checkout_page(self, method: str, session_id: str) -> tuple[int, str, dict]:
        session = self.checkout_sessions[session_id]
        if session["status"] != "open":
            return 409 if method == "POST" else 200, _html("Fake Stripe Checkout", "<p>This Checkout Session is no longer active.</p>"), {}
        if method == "POST":
            self.pay(session_id)
            if not session["success_url"]:
                return 200, _html("Fake Stripe Checkout", "<p>Thanks for your payment.</p>"), {}
            return 303, "", {"Location": session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)}
        price = self.prices[self._checkout_orders[session_id]["price"]]
        amount = f"{price['unit_amount'] / 100:.2f} {price['currency'].upper()} / {price['recurring']['interval']}"
        back = f'<a id="cancel" href="{html.escape(session["cancel_url"])}">Back</a>' if session["cancel_url"] else ""
        body = (
            f'<p id="price">{html.escape(amount)}</p>'
            f'<form method="post" action="/pay/{session_id}"><button id="pay" type="submit">Pay</button></form>{back}'
        )
        return 200, _html("Fake Stripe Checkout", body), {}

    def _portal_html(self, portal_session_id: str) -> str:
        portal = self.portal_sessions[portal_session_id]
        subscription = self._live_subscription(portal["customer"])
        if subscription is None:
            plan = "<p>No active plan.</p>"
        elif subscription["cancel_at_period_end"]:
            plan = f'<p id="plan">Your plan will be canceled on {time.strftime("%Y-%m-%d", time.gmtime(subscription["cancel_at"]))}.</p>'
        else:
            renews = time.strftime("%Y-%m-%d", time.gmtime(subscription["items"]["data"][0]["current_period_end"]))
            plan = (
                f'<p id="plan">Your plan renews on {renews}.</p>'
                f'<form method="post" action="/portal/{portal_session_id}/cancel">'
                '<button id="cancel-plan" type="submit">Cancel plan</button></form>'
            )
        back = f'<a id="return" href="{html.escape(portal["return_url"])}">Return</a>' if portal["return_url"] else ""
        return _html("Fake Stripe customer portal", plan + back)

    # --- HTTP ------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = self.rfile.read(length).decode() if length else ""
                query = decode_params(parse_qsl(parts.query, keep_blank_values=True))
                params = {**query, **decode_params(parse_qsl(form, keep_blank_values=True))}
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": query,
                        "params": params,
                        "headers": dict(self.headers),
                        "idempotency_key": self.headers.get("Idempotency-Key"),
                        "stripe_version": self.headers.get("Stripe-Version"),
                        "time": time.monotonic(),
                    }
                )
                if not parts.path.startswith("/v1/"):
                    status, page, headers = fake._page(self.command, parts.path)
                    return self._send(status, page.encode(), "text/html; charset=utf-8", headers)
                outcome = fake.next_outcomes.popleft() if fake.next_outcomes else None
                if outcome == "hang":
                    fake._stopping.wait(fake.hang_seconds)
                if outcome in ("hang", "drop"):
                    self.close_connection = True
                    return None
                if isinstance(outcome, int):
                    return self._send(outcome, _fault_error(outcome).body(), headers={"Request-Id": new_id("req_", 14)})
                status, body, headers = fake._answer(self.command, parts.path, params, self.headers)
                if outcome == "drop_after":
                    self.close_connection = True
                    return None
                return self._send(status, body, headers=headers)

        return Handler


def _html(title: str, body: str) -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
