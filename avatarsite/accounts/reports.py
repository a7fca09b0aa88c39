"""The accounts app's public read for the operator's dashboard (ops): sign-ups per UTC day, as
(day, "signups", count), from User.date_joined."""

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate

from .models import User

DailySeries = list[tuple[date, str, int]]
SIGNUPS = "signups"


def signups_by_day(*, start: date, end: date) -> DailySeries:
    """Accounts created per day (both days included)."""
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    rows = (
        User.objects.filter(date_joined__gte=since, date_joined__lt=until)
        .annotate(day=TruncDate("date_joined", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    return [(row["day"], SIGNUPS, row["n"]) for row in rows]
