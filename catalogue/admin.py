"""The catalogue in the admin: providers with their models. A save applies to the next job, with no
restart (catalogue.signals publishes it); a provider that could not be built is refused on save."""

import os

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.module_loading import import_string

from .conversion import ProviderRow, config_from_row
from .models import ImageModel, ImageProvider
from .selectors import model_row

# The JSON columns hold short lists and small objects: two rows, not Django's ten.
SHORT_JSON = {models.JSONField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})}}


class ImageModelInline(admin.StackedInline):
    model = ImageModel
    extra = 0
    formfield_overrides = SHORT_JSON
    fieldsets = [
        (None, {"fields": [("model_id", "enabled")]}),
        (
            "What it delivers",
            {
                "fields": [
                    ("max_side", "side_step", "images_per_call"),
                    "aspect_ratios",
                    ("supports_seed", "supports_negative_prompt", "supports_reference_image"),
                ]
            },
        ),
        ("Price and licence", {"fields": [("price_usd", "price_unit"), "licence", "commercial_use"]}),
        ("Adapter options", {"fields": ["options"], "classes": ["collapse"]}),
    ]


class ImageProviderForm(forms.ModelForm):
    class Meta:
        model = ImageProvider
        fields = ["name", "enabled", "adapter", "key_env", "base_url", "timeout_seconds", "output_hosts", "options"]

    def clean_adapter(self) -> str:
        path = self.cleaned_data["adapter"]
        try:
            adapter = import_string(path)
        except ImportError as exc:
            raise ValidationError(f"No adapter class at {path!r}: {exc}") from exc
        if not callable(getattr(adapter, "generate", None)):
            raise ValidationError(f"{path!r} is not a provider adapter (it has no generate method).")
        return path

    def clean_options(self) -> dict:
        options = self.cleaned_data["options"]
        if not isinstance(options, dict):
            raise ValidationError('A JSON object, e.g. {"prefer_wait": 10}.')
        secret = sorted(key for key in options if "key" in key.lower() or "token" in key.lower() or "secret" in key.lower())
        if secret:
            raise ValidationError(f"Keys are never stored here ({', '.join(secret)}): name their variable in 'key variable'.")
        return options

    def clean(self) -> dict:
        """Build the adapter as a job would (with this provider's saved models): a wrong option is
        refused here, not found by the next job."""
        data = super().clean()
        if self.errors:
            return data
        row = ProviderRow(
            name=data.get("name") or "",
            adapter=data["adapter"],
            key_env=data.get("key_env") or "",
            base_url=data.get("base_url") or "",
            timeout_seconds=data.get("timeout_seconds"),
            output_hosts=list(data.get("output_hosts") or []),
            options=dict(data.get("options") or {}),
            models=[model_row(model) for model in self.instance.models.all()] if self.instance.pk else [],
        )
        config = config_from_row(row, allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK, environ={})
        try:
            import_string(config["BACKEND"])(**config["OPTIONS"])
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"The adapter cannot be built with these settings: {exc}") from exc
        return data


@admin.register(ImageProvider)
class ImageProviderAdmin(admin.ModelAdmin):
    form = ImageProviderForm
    formfield_overrides = SHORT_JSON
    list_display = ("name", "enabled", "adapter", "key_variable", "base_url", "model_count", "updated_at")
    list_filter = ("enabled",)
    list_editable = ("enabled",)
    search_fields = ("name", "adapter", "models__model_id")
    inlines = [ImageModelInline]
    fieldsets = [
        (None, {"fields": [("name", "enabled"), "adapter"]}),
        ("Connection", {"fields": ["key_env", "key_here", "base_url", "timeout_seconds", "output_hosts"]}),
        ("Adapter options", {"fields": ["options"], "classes": ["collapse"]}),
    ]
    readonly_fields = ["key_here"]
    actions = ["switch_off", "switch_on"]

    @admin.action(description="Switch off the selected providers (chains skip them from the next job on)")
    def switch_off(self, request, queryset) -> None:
        self._switch(request, queryset, enabled=False)

    @admin.action(description="Switch on the selected providers")
    def switch_on(self, request, queryset) -> None:
        self._switch(request, queryset, enabled=True)

    def _switch(self, request, queryset, *, enabled: bool) -> None:
        # One save each (not queryset.update): a save is what publishes the change to every process.
        for provider in queryset:
            provider.enabled = enabled
            provider.save(update_fields=["enabled", "updated_at"])
        self.message_user(request, f"{len(queryset)} provider(s) switched {'on' if enabled else 'off'}; the next job sees it.")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("models")

    @admin.display(description="key variable")
    def key_variable(self, provider: ImageProvider) -> str:
        return f"{provider.key_env} ({'set' if _key_set(provider) else 'not set'} here)" if provider.key_env else "none"

    @admin.display(description="key in this server's environment")
    def key_here(self, provider: ImageProvider) -> str:
        """Whether the variable is set in this (web) process, never its value; workers read their own."""
        if not provider.key_env:
            return "No key: the provider needs none."
        return "Set." if _key_set(provider) else f"Not set: without {provider.key_env} the provider is not set up and chains skip it."

    @admin.display(description="models")
    def model_count(self, provider: ImageProvider) -> int:
        return len(provider.models.all())


def _key_set(provider: ImageProvider) -> bool:
    return bool(os.environ.get(provider.key_env))
