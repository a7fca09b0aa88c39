"""Admin for generation jobs (with their provider calls and images), the cost ledger and API webhooks."""

from django.contrib import admin, messages

from .deliveries import webhook_deliveries_retry
from .models import CostEntry, GeneratedImage, GenerationJob, WebhookDelivery
from .services import JobNotCancelableError, generation_job_cancel
from .spend import spend_totals


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

    list_display = ("created_at", "provider", "model", "plan", "outcome", "error_kind", "images", "megapixels", "cost_usd", "latency_ms")
    list_filter = ("provider", "model", "plan", "outcome", "error_kind")
    date_hierarchy = "created_at"
    search_fields = ("request_id", "job__id")
    readonly_fields = [f.name for f in CostEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the books are kept

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # the spend of what is filtered, by provider
            lines = spend_totals(queryset=changelist.queryset)
            summary = "; ".join(f"{line.provider}: ${line.cost_usd:.4f} over {line.calls} calls ({line.images} images)" for line in lines)
            self.message_user(request, f"Spend shown: {summary or 'none'}", messages.INFO)
        return response


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
