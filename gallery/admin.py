"""Admin for sources (licence policy, rate-limit state) and avatars."""

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from .models import Avatar, AvatarVariant, Source
from .selectors import source_gate_message
from .services import source_licence_set


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "enabled",
        "licence_confirmed",
        "on_the_site",
        "commercial_use_allowed",
        "last_run_at",
        "rate_limit_remaining",
    )
    list_editable = ("enabled", "licence_confirmed")
    readonly_fields = ("on_the_site", "last_run_at", "rate_limit_remaining", "rate_limit_reset_at", "resume_state")
    actions = ("confirm_licence", "withdraw_licence")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a website typed without its scheme

    @admin.display(description="On the site")
    def on_the_site(self, source: Source) -> str:
        # The licence gate in words, so an operator sees at once why a source's avatars are missing.
        reason = source.blocked_reason
        return f"Hidden, imports refused: {reason}" if reason else "Shown; imports run"

    def get_fields(self, request: HttpRequest, obj: Source | None = None) -> list[str]:
        fields = [name for name in super().get_fields(request, obj) if name != "on_the_site"]
        return ["on_the_site", *fields] if obj else fields

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        source = self.get_object(request, object_id)
        if request.method == "GET" and source is not None and (message := source_gate_message(source=source)):
            self.message_user(request, message, messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Source, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and {"enabled", "licence_confirmed"} & set(form.changed_data):
            if message := source_gate_message(source=obj):
                self.message_user(request, message, messages.WARNING)
            else:
                self.message_user(request, f"{obj.name}: its avatars are shown and imports run.", messages.SUCCESS)

    @admin.action(description="Confirm the licence of the selected sources (show their avatars, allow imports)")
    def confirm_licence(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            source_licence_set(source=source, confirmed=True)
            if message := source_gate_message(source=source):  # e.g. confirmed but still disabled
                self.message_user(request, message, messages.WARNING)
        self.message_user(request, f"Licence confirmed for {len(queryset)} source(s).", messages.SUCCESS)

    @admin.action(description="Withdraw the licence confirmation (hide their avatars, refuse imports)")
    def withdraw_licence(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            source_licence_set(source=source, confirmed=False)
            self.message_user(request, source_gate_message(source=source), messages.WARNING)


class AvatarVariantInline(admin.TabularInline):
    model = AvatarVariant
    extra = 0
    readonly_fields = ("size", "format", "key", "bytes")
    can_delete = False


@admin.register(Avatar)
class AvatarAdmin(admin.ModelAdmin):
    list_display = ("__str__", "source", "photographer_name", "gender", "age_group", "download_count", "created_at")
    list_filter = ("source", "gender", "age_group", "content_rating", "is_demo")
    search_fields = ("title", "external_id", "photographer_name")
    readonly_fields = ("phash", "retrieved_at", "created_at", "updated_at")
    exclude = ("phash_band0", "phash_band1", "phash_band2", "phash_band3", "placeholder")
    inlines = [AvatarVariantInline]
