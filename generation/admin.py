"""Admin for generation jobs (with their provider calls and images), the cost ledger (with its provider
health page), the spend budget and its alerts, and API webhooks."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from .breaker import CLOSED, HALF_OPEN, OPEN
from .budget import budget_status
from .deliveries import webhook_deliveries_retry
from .errors import TryItUnavailableError
from .health import UNKNOWN_BREAKER, catalogue_models, model_health
from .models import CostEntry, GeneratedImage, GenerationJob, SpendAlert, SpendBudget, WebhookDelivery
from .providers.registry import provider_get
from .services import JobNotCancelableError, generation_job_cancel
from .services.tryout import provider_try
from .spend import spend_totals

HEALTH_WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
# A breaker state, its colour on the health page and what it means for the jobs.
BREAKER_WORDS = {
    CLOSED: ("#1a7f37", "closed: calls go through"),
    OPEN: ("#cf222e", "open: jobs skip this provider until its cool-down ends"),
    HALF_OPEN: ("#9a6700", "half-open: the next call is a probe; its success closes the circuit"),
    UNKNOWN_BREAKER: ("#57606a", "unknown: the cache is unreachable, so calls go through uncounted"),
}


class CostEntryInline(admin.TabularInline):
    model = CostEntry
    extra = 0
    can_delete = False
    fields = ("created_at", "provider", "model", "request_id", "outcome", "error_kind", "error", "images", "cost_usd", "latency_ms")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class GeneratedImageInline(admin.TabularInline):
    model = GeneratedImage
    extra = 0
    can_delete = False
    fields = ("index", "width", "height", "provider", "model", "model_version", "seed", "licence_note", "content_rating", "nsfw_score")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "plan", "queue", "style", "status", "progress", "runs", "error_kind", "created_at")
    list_filter = ("status", "plan", "queue", "style", "error_kind")
    search_fields = ("id", "user__username", "user__email", "prompt")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in GenerationJob._meta.fields]
    inlines = [CostEntryInline, GeneratedImageInline]
    actions = ["cancel_jobs"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Cancel the selected jobs (quota returned unless a provider delivered)")
    def cancel_jobs(self, request, queryset) -> None:
        canceled = 0
        for job in queryset:
            try:
                generation_job_cancel(job=job)
                canceled += 1
            except JobNotCancelableError:
                pass
        self.message_user(request, f"Canceled {canceled} job(s); finished ones were left as they are.", messages.SUCCESS)


@admin.register(CostEntry)
class CostEntryAdmin(admin.ModelAdmin):
    """The ledger: one line per provider call. The list shows the spend of what is filtered."""

    list_display = (
        "created_at", "provider", "model", "plan", "outcome", "error_kind", "images", "megapixels", "cost_usd", "expected_usd",
        "latency_ms",
    )  # fmt: skip
    list_filter = ("provider", "model", "plan", "outcome", "error_kind")
    date_hierarchy = "created_at"
    search_fields = ("request_id", "job__id")
    readonly_fields = [f.name for f in CostEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the books are kept

    change_list_template = "admin/generation/costentry/change_list.html"

    def get_urls(self):
        health = path("health/", self.admin_site.admin_view(self.health_view), name="generation_costentry_health")
        return [health, *super().get_urls()]

    def health_view(self, request):
        """Provider health per provider and model over a window; POST = "try it" on one model (a real,
        billed call, so it needs the right to change the ledger, not only to view it)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        window = request.POST.get("window") or request.GET.get("window") or "24h"
        window = window if window in HEALTH_WINDOWS else "24h"
        tried, refusal, status = None, "", 200
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            try:
                tried = provider_try(provider=request.POST.get("provider", ""), model=request.POST.get("model", ""))
            except TryItUnavailableError as exc:
                refusal, status = exc.message, 400
        can_try = self.has_change_permission(request)
        providers: dict[str, dict] = {}
        for row in model_health(window=HEALTH_WINDOWS[window]):
            if row.provider not in providers:
                adapter = provider_get(row.provider)
                colour, meaning = BREAKER_WORDS.get(row.breaker, BREAKER_WORDS[UNKNOWN_BREAKER])
                providers[row.provider] = {
                    "name": row.provider,
                    "breaker": row.breaker,
                    "colour": colour,
                    "meaning": meaning,
                    "set_up": adapter is not None,
                    "models": set(catalogue_models(adapter)) if adapter is not None else set(),
                    "rows": [],
                }
            group = providers[row.provider]
            group["rows"].append({"health": row, "try": can_try and row.model in group["models"]})
        context = {
            **self.admin_site.each_context(request),
            "title": "Provider health",
            "opts": self.model._meta,
            "providers": list(providers.values()),
            "window": window,
            "windows": list(HEALTH_WINDOWS),
            "tried": tried,
            "refusal": refusal,
            "time_zone": settings.TIME_ZONE,
        }
        return TemplateResponse(request, "admin/generation/provider_health.html", context, status=status)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # the spend of what is filtered, by provider
            lines = spend_totals(queryset=changelist.queryset)
            summary = "; ".join(f"{line.provider}: ${line.cost_usd:.4f} over {line.calls} calls ({line.images} images)" for line in lines)
            self.message_user(request, f"Spend shown: {summary or 'none'}", messages.INFO)
            _budget_message(self, request)
        return response


# The budget's standing, as the admin shows it above the ledger and on the budget's page.
BUDGET_LEVELS = {"": messages.INFO, "notice": messages.INFO, "warning": messages.WARNING, "danger": messages.ERROR}


def _budget_message(model_admin: admin.ModelAdmin, request) -> None:
    status = budget_status()
    model_admin.message_user(request, f"Budget: {status.summary}", BUDGET_LEVELS[status.level])


@admin.register(SpendBudget)
class SpendBudgetAdmin(admin.ModelAdmin):
    """The one budget row: edited here, never added or deleted (the migration made it)."""

    list_display = ("__str__", "hard_stop_free", "hard_stop_paid", "user_daily_usd", "updated_at")
    fields = ("this_month", "monthly_usd", "hard_stop_free", "hard_stop_paid", "user_daily_usd", "alert_emails")
    readonly_fields = ("this_month",)

    @admin.display(description="This month")
    def this_month(self, obj: SpendBudget) -> str:
        status = budget_status()
        crossed = ", ".join(f"{t} %" for t in status.thresholds_crossed) or "none"
        return f"{status.summary} Thresholds crossed: {crossed}."

    def has_add_permission(self, request) -> bool:
        return not SpendBudget.objects.exists()

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = 1  # the one row (a database emptied since the migration gets it back here)
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        _budget_message(self, request)
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(SpendAlert)
class SpendAlertAdmin(admin.ModelAdmin):
    """The 50/80/100 % alerts sent, one per threshold per month."""

    list_display = ("month", "threshold", "committed_usd", "budget_usd", "recipients", "created_at")
    readonly_fields = [f.name for f in SpendAlert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """API completion webhooks: what was delivered, what is being retried and why, what was given up."""

    list_display = ("id", "job", "status", "attempts", "last_status_code", "last_error", "next_attempt_at", "created_at", "delivered_at")
    list_filter = ("status",)
    search_fields = ("id", "job__id", "url")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Retry the selected deliveries now (a failed one gets another day)")
    def retry_now(self, request, queryset) -> None:
        count = webhook_deliveries_retry(deliveries=queryset)
        self.message_user(request, f"{count} delivery(ies) will be retried within 30 s.", messages.SUCCESS)
