"""Billing data: plans (entitlements as data) and each user's subscription to one.

Stripe ids, webhook events and API keys arrive with the billing and API work and extend these.
"""

from django.conf import settings
from django.db import models


class Plan(models.Model):
    """What a tier may do. Code never compares plan names: it asks `billing.entitlements`."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=60)
    price_usd_per_month = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    queue = models.CharField(max_length=32, help_text="The Celery queue its generations run on.")
    priority = models.PositiveSmallIntegerField(default=5, help_text="Celery priority within the queue (0 = first).")
    provider_chain = models.JSONField(
        default=list, help_text='Providers tried in order, e.g. ["fal:fal-ai/flux/schnell", "replicate:black-forest-labs/flux-schnell"].'
    )
    max_size = models.PositiveIntegerField(default=1024, help_text="Largest square side (px) a generation may ask for.")
    daily_quota = models.PositiveIntegerField(null=True, blank=True, help_text="Generations per UTC day; empty = no daily cap.")
    hourly_quota = models.PositiveIntegerField(null=True, blank=True, help_text="Generations per clock hour; empty = no hourly cap.")
    max_images_per_request = models.PositiveSmallIntegerField(default=1)
    api_access = models.BooleanField(default=False)
    api_rate_per_minute = models.PositiveIntegerField(default=0)
    api_keys_max = models.PositiveSmallIntegerField(default=0)
    is_default = models.BooleanField(default=False, help_text="The plan of users without a subscription (exactly one).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True), name="billing_one_default_plan")]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """A user's paid or assigned plan. No row, or an ended one, means the default (free) plan."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due (grace period)"
        CANCELED = "canceled", "Canceled"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    current_period_end = models.DateTimeField(null=True, blank=True, help_text="Empty = no end (e.g. an operator-assigned plan).")
    grace_until = models.DateTimeField(null=True, blank=True, help_text="While past due, the plan holds until then.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} on {self.plan} ({self.status})"
