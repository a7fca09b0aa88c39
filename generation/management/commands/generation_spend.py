"""Prints provider spend from the cost ledger, per day, provider and plan."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from generation.spend import spend_by_day


class Command(BaseCommand):
    help = "Provider spend per day, provider and plan, from the cost ledger (one line per provider call)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7, help="How many UTC days back, today included (default 7).")

    def handle(self, *args, days: int, **options) -> None:
        since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=max(1, days) - 1)
        lines = spend_by_day(since=since)
        self.stdout.write(f"{'day':<10}  {'provider':<10}  {'plan':<10}  {'calls':>6}  {'images':>6}  {'cost (USD)':>11}")
        for line in lines:
            day, plan = f"{line.day:%Y-%m-%d}", line.plan or "-"
            self.stdout.write(f"{day}  {line.provider:<10}  {plan:<10}  {line.calls:>6}  {line.images:>6}  {line.cost_usd:>11.4f}")
        total = sum((line.cost_usd for line in lines), start=0)
        self.stdout.write(f"total since {since:%Y-%m-%d}: ${total:.4f} over {sum(line.calls for line in lines)} calls")
