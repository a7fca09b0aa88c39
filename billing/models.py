"""Billing data: plans (entitlements as data), each user's subscription, API keys (stored as hashes),
and what Stripe told us (customers, events stored by id before anything is done with them, invoices,
checkout attempts)."""

import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.module_loading import import_string


class Plan(models.Model):
    """What a tier may do. Code never compares plan names: it asks `billing.entitlements`."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=60)
    price_usd_per_month = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    display_order = models.PositiveSmallIntegerField(default=0, help_text="Place on the pricing page.")
    contracted = models.BooleanField(default=False, help_text="Sold by contract (assigned by an operator), not by self-serve checkout.")
    stripe_price_id = models.CharField(
        max_length=100, blank=True, help_text="The Stripe Price sold by checkout (empty: the setting STRIPE_PREMIUM_PRICE_ID for premium)."
    )
    queue = models.CharField(max_length=32, help_text="The Celery queue its generations run on.")
    priority = models.PositiveSmallIntegerField(default=5, help_text="Celery priority within the queue (0 = first).")

    class Routing(models.TextChoices):
        # Each job's chain is ordered when it is requested, from the providers' live health (success
        # rate, latency and breaker over the last hour of the ledger); failures fall to the next entry.
        ORDERED = "ordered", "In the order given"
        CHEAPEST = "cheapest", "Cheapest healthy first"
        FASTEST = "fastest", "Fastest healthy first"
        FREE_FIRST = "free_first", "Free first, then the others in order"

    provider_chain = models.JSONField(
        default=list, help_text='Providers tried in order, e.g. ["fal:fal-ai/flux/schnell", "replicate:black-forest-labs/flux-schnell"].'
    )
    routing = models.CharField(
        max_length=16,
        choices=Routing.choices,
        default=Routing.ORDERED,
        help_text="How each job orders the chain: as given, or by price or speed among the healthy providers (unhealthy ones last).",
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
        ordering = ["display_order", "id"]
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True), name="billing_one_default_plan")]

    def __str__(self) -> str:
        return self.name

    def sizes(self) -> Any | None:
        """How its provider chain delivers its sizes (natively, or upscaled), from the function
        settings.BILLING_PLAN_SIZES names (the generation app's), or None when none is named.
        It has `.offered_max`, `.summary` (words for the pricing page) and `.problem` ("" = deliverable)."""
        path = getattr(settings, "BILLING_PLAN_SIZES", "")
        if not path or not _is_chain(self.provider_chain):
            return None
        return import_string(path)(provider_chain=list(self.provider_chain), max_size=self.max_size, max_images=self.max_images_per_request)

    def clean(self) -> None:
        """A plan offers only sizes and image counts its chain can deliver (checked wherever plans are edited: the admin)."""
        super().clean()
        if not _is_chain(self.provider_chain):
            raise ValidationError({"provider_chain": 'A list of "provider:model" entries, e.g. ["fal:fal-ai/flux/schnell"].'})
        sizes = self.sizes() if self.max_size else None
        if sizes is not None and sizes.problem:
            raise ValidationError({"max_size": sizes.problem})
        if sizes is not None and getattr(sizes, "images_problem", ""):
            raise ValidationError({"max_images_per_request": sizes.images_problem})


def _is_chain(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(entry, str) and entry.strip() for entry in value)


class Subscription(models.Model):
    """A user's paid or assigned plan. No row, or an ended one, means the default (free) plan.

    For Stripe the row holds the customer's newest subscription (`stripe_created`, then the id) in
    its newest observed state (`stripe_state_at`): an event of an older subscription, or an older
    observation of the same one, never replaces it, so events applied in any order, twice or
    concurrently leave the same row.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due (grace period)"
        INCOMPLETE = "incomplete", "Waiting for the first payment"
        CANCELED = "canceled", "Canceled"

    class Source(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        OPERATOR = "operator", "Assigned by an operator"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.OPERATOR)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    current_period_end = models.DateTimeField(null=True, blank=True, help_text="Empty = no end (e.g. an operator-assigned plan).")
    cancel_at_period_end = models.BooleanField(default=False)
    grace_until = models.DateTimeField(null=True, blank=True, help_text="While past due, the plan holds until then.")
    stripe_subscription_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    stripe_status = models.CharField(max_length=32, blank=True, help_text="Stripe's own status word.")
    stripe_state_at = models.DateTimeField(null=True, blank=True, help_text="When Stripe's state held here was observed.")
    stripe_created = models.DateTimeField(
        null=True, blank=True, help_text="When Stripe created the subscription held here (a newer one of the customer replaces it)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} on {self.plan} ({self.status})"


class StripeCustomer(models.Model):
    """The Stripe customer of a user (created at their first checkout)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stripe_customer")
    customer_id = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.customer_id} ({self.user})"


class StripeEvent(models.Model):
    """Every webhook event, stored by its Stripe id before it is processed: a repeat is a no-op."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (a type we do not handle)"
        FAILED = "failed", "Failed (will be retried)"

    id = models.CharField(max_length=100, primary_key=True)
    type = models.CharField(max_length=100, db_index=True)
    created = models.DateTimeField(help_text="When Stripe created the event.")
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.id} {self.type} ({self.status})"


class Invoice(models.Model):
    """An invoice Stripe told us about (paid or failed), once per Stripe id."""

    stripe_invoice_id = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invoices")
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=32)
    amount_paid = models.PositiveIntegerField(default=0, help_text="In the currency's smallest unit (cents).")
    amount_due = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=8, default="usd")
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    invoice_pdf = models.URLField(max_length=500, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.stripe_invoice_id} {self.status}"

    @property
    def amount_display(self) -> str:
        """The amount in currency units, e.g. "10.00 USD" (zero-decimal currencies aside)."""
        return f"{self.amount_due / 100:.2f} {self.currency.upper()}"


class CheckoutAttempt(models.Model):
    """One "upgrade" click's Checkout Session. Its id makes the idempotency key, so a retried or
    repeated request reuses the same Stripe session instead of creating another."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkout_attempts")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    price_id = models.CharField(max_length=100)
    stripe_session_id = models.CharField(max_length=100, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} → {self.plan} ({self.status})"


def webhook_secret_new() -> str:
    """A key's webhook signing secret: 256 random bits."""
    return "whsec_" + secrets.token_urlsafe(32)


class ApiKey(models.Model):
    """A user's key to the enterprise API. The full key (`avk_<8 chars>_<40 chars>`) is shown once,
    at creation, and never stored: only its visible prefix (to find and list it) and its hash.

    SHA-256, a fast hash, is right here where a password would need a slow one: the secret is 240
    random bits, so no dictionary or brute force over the hash can find it, however fast each guess;
    a slow hash (PBKDF2, hundreds of ms) would only add that time to every API request.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=60, help_text="The owner's label, e.g. where the key is used.")
    prefix = models.CharField(max_length=12, unique=True, help_text="The key's visible start (avk_ + 8 characters).")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the full key.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Recorded at most once a minute.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Kept as it is (it signs every completion webhook of the key's jobs) and shown with the key.
    webhook_secret = models.CharField(max_length=64, default=webhook_secret_new, help_text="Signs the completion webhooks.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
