"""Operators' view of billing: plans (edited here, effective at once), subscriptions (an enterprise
plan is assigned by adding one), API keys (revoked here), and what Stripe told us (events, invoices,
customers)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import dispatch
from .models import ApiKey, CheckoutAttempt, Invoice, Plan, StripeCustomer, StripeEvent, Subscription
from .services import api_key_revoke


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "price_usd_per_month", "queue", "priority", "daily_quota", "hourly_quota", "api_access", "is_default"]
    list_editable = ["daily_quota", "hourly_quota"]
    ordering = ["display_order"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "display_order", "price_usd_per_month", "contracted", "stripe_price_id", "is_default"]}),
        (
            "Generation",
            {
                "fields": [
                    "queue",
                    "priority",
                    "provider_chain",
                    "routing",
                    "max_size",
                    "max_images_per_request",
                    "daily_quota",
                    "hourly_quota",
                ]
            },
        ),
        ("API", {"fields": ["api_access", "api_rate_per_minute", "api_keys_max"]}),
    ]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Adding a row (source: operator) gives a user a plan at once, e.g. enterprise by contract;
    leave the period end empty for no end. Stripe rows are kept by Stripe's events."""

    list_display = ["user", "plan", "status", "source", "current_period_end", "cancel_at_period_end", "grace_until", "updated_at"]
    list_filter = ["plan", "status", "source"]
    search_fields = ["user__username", "user__email", "stripe_subscription_id"]
    autocomplete_fields = ["user"]
    readonly_fields = ["stripe_subscription_id", "stripe_status", "stripe_created", "stripe_state_at", "created_at", "updated_at"]


class _ReadOnly(admin.ModelAdmin):
    """What Stripe told us is shown, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(_ReadOnly):
    list_display = ["id", "type", "created", "status", "attempts", "error", "received_at"]
    list_filter = ["status", "type", "livemode"]
    search_fields = ["id"]
    actions = ["process_again"]

    @admin.action(description="Process the selected failed events again")
    def process_again(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        failed = list(queryset.filter(status=StripeEvent.Status.FAILED).values_list("id", flat=True))
        for event_id in failed:
            dispatch.stripe_event_process(event_id=event_id)
        messages.info(request, f"{len(failed)} failed event(s) queued again.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are listed and revoked here; a key is created by its owner on the account page or by an
    operator with `manage.py issue_api_key`, the only places that can show it once. The hash is never shown."""

    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "user__username", "user__email"]
    list_select_related = ["user"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]  # not key_hash
    readonly_fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        active = list(queryset.filter(revoked_at__isnull=True).select_related("user"))
        for key in active:
            api_key_revoke(user=key.user, key_id=key.pk)
        messages.info(request, f"{len(active)} API key(s) revoked.")


@admin.register(Invoice)
class InvoiceAdmin(_ReadOnly):
    list_display = ["stripe_invoice_id", "user", "status", "amount_display", "created"]
    list_filter = ["status"]
    search_fields = ["stripe_invoice_id", "user__username", "user__email"]


@admin.register(StripeCustomer)
class StripeCustomerAdmin(_ReadOnly):
    list_display = ["customer_id", "user", "created_at"]
    search_fields = ["customer_id", "user__username", "user__email"]


@admin.register(CheckoutAttempt)
class CheckoutAttemptAdmin(_ReadOnly):
    list_display = ["id", "user", "plan", "status", "stripe_session_id", "created_at"]
    list_filter = ["status", "plan"]
