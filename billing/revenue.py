"""What a user paid, for reports outside billing (the API's usage): a public read that hands out
dataclasses, so no other app reads billing's models."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Sum

from .models import Invoice


@dataclass(frozen=True)
class Paid:
    """The invoices a user paid in one currency over a period."""

    currency: str
    amount: int  # in the currency's smallest unit (cents)


def paid_by_currency(*, user_id: int, since: datetime, until: datetime) -> list[Paid]:
    """The amounts the user paid on invoices created in [since, until), per currency (by name);
    invoices that took nothing (free, voided) are left out."""
    paid = Invoice.objects.filter(user_id=user_id, created__gte=since, created__lt=until, amount_paid__gt=0)
    rows = paid.values("currency").annotate(amount=Sum("amount_paid")).order_by("currency")
    return [Paid(currency=row["currency"], amount=row["amount"]) for row in rows]
