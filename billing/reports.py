"""Billing's public read for the operator's dashboard (ops): conversions to a paid plan per UTC day,
as (day, plan slug, count), so no other app reads billing's models.

A conversion is a Subscription row on a paid plan (a price above zero, or a contracted plan such as
enterprise), on the day the row was created. A user has one subscription row (changing plans
updates it), so each paying user counts once, on the day they first subscribed."""

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from .models import Subscription

DailySeries = list[tuple[date, str, int]]
PAID = Q(plan__price_usd_per_month__gt=0) | Q(plan__contracted=True)


def conversions_by_day(*, start: date, end: date) -> DailySeries:
    """Subscriptions to a paid plan created per day (both days included) and plan, by day then plan."""
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    rows = (
        Subscription.objects.filter(PAID, created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "plan__slug")
        .annotate(n=Count("id"))
        .order_by("day", "plan__slug")
    )
    return [(row["day"], row["plan__slug"], row["n"]) for row in rows]
