"""Admin for sources (licence policy, rate-limit state) and avatars."""

from django.contrib import admin

from .models import Avatar, AvatarVariant, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "enabled", "licence_confirmed", "commercial_use_allowed", "last_run_at", "rate_limit_remaining")
    list_editable = ("enabled", "licence_confirmed")
    readonly_fields = ("last_run_at", "rate_limit_remaining", "rate_limit_reset_at", "resume_state")


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
