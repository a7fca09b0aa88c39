"""Gallery's public read for the operator's dashboard (ops): views and downloads per UTC day, as
(day, kind, count) with kind "view" or "download", and the all-time download total."""

from datetime import date

from django.db.models import Sum

from .models import Avatar, DailyCount

DailySeries = list[tuple[date, str, int]]


def gallery_counts_by_day(*, start: date, end: date) -> DailySeries:
    """Avatar page views and downloads per day (both days included), sorted by day then kind."""
    rows = DailyCount.objects.filter(day__gte=start, day__lte=end).order_by("day", "kind").values_list("day", "kind", "count")
    return [(day, kind, count) for day, kind, count in rows]


def downloads_all_time() -> int:
    """Every download ever counted (the avatars' totals)."""
    return Avatar.objects.aggregate(total=Sum("download_count"))["total"] or 0
