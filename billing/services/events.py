"""Stripe's events received (stored by their id before anything is done with them, so a repeat is a
no-op) and the invoices Stripe tells us about."""

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import dispatch, stripe_client
from ..models import Invoice, StripeCustomer, StripeEvent


def invoice_record(*, invoice: dict) -> Invoice | None:
    """Keep an invoice Stripe told us about (once per id; a later status overwrites an earlier one)."""
    user_id = StripeCustomer.objects.filter(customer_id=invoice.get("customer") or "").values_list("user_id", flat=True).first()
    if user_id is None:
        return None
    fields = {
        "user_id": user_id,
        "stripe_subscription_id": invoice_subscription_id(invoice),
        "status": invoice.get("status") or "",
        "amount_paid": invoice.get("amount_paid") or 0,
        "amount_due": invoice.get("amount_due") or 0,
        "currency": invoice.get("currency") or "usd",
        "hosted_invoice_url": invoice.get("hosted_invoice_url") or "",
        "invoice_pdf": invoice.get("invoice_pdf") or "",
        "period_end": _from_timestamp(invoice.get("period_end")),
        "created": _from_timestamp(invoice.get("created")) or timezone.now(),
    }
    record, _ = Invoice.objects.update_or_create(stripe_invoice_id=invoice["id"], defaults=fields)
    return record


def invoice_subscription_id(invoice: dict) -> str:
    """Where the subscription sits on an invoice (moved under `parent` in API 2025-03-31)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription = details.get("subscription") or invoice.get("subscription") or ""
    return subscription["id"] if isinstance(subscription, dict) else subscription


def _from_timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def stripe_event_receive(*, event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified event by its id; True if it is new. Processing is enqueued after commit,
    so the webhook answers at once and a duplicate delivery changes nothing."""
    ours = bool(event.get("livemode")) == stripe_client.livemode()
    fields = {
        "type": event["type"],
        "created": _from_timestamp(event.get("created")) or timezone.now(),
        "livemode": bool(event.get("livemode")),
        "payload": event,
        "status": StripeEvent.Status.RECEIVED if ours else StripeEvent.Status.IGNORED,
        "error": "" if ours else "an event of the other mode (live/test) than our key",
    }
    # get_or_create inserts in a savepoint and, when a concurrent delivery won the insert, reads its row.
    stored, created = StripeEvent.objects.get_or_create(id=event["id"], defaults=fields)
    if created and ours:
        transaction.on_commit(lambda: dispatch.stripe_event_process(event_id=stored.id))
    return stored, created
