"""The bodies of the gallery API, each built by a DRF output serializer that is also its OpenAPI
schema (one source for both): an avatar (`AvatarSerializer`), a page of them (`AvatarPageSerializer`)
and the filters' counts (`AvatarFacetsSerializer`)."""

from types import SimpleNamespace

from rest_framework import serializers

from avatarsite.core.openapi import IsoDateTimeField, VariantSerializer
from avatarsite.core.serializers import CompiledSerializer

from .models import Avatar


class AvatarProvenanceSerializer(CompiledSerializer):
    """Where the avatar comes from, and what its licence allows."""

    source = serializers.CharField(source="source.slug", help_text="pexels, generated_photos or demo.")
    external_id = serializers.CharField()
    retrieved_at = IsoDateTimeField()
    licence = serializers.CharField()
    commercial_use_allowed = serializers.BooleanField(source="source.commercial_use_allowed")
    attribution_required = serializers.BooleanField(source="source.attribution_required")
    attribution = serializers.CharField(help_text="The text to show with the image (empty when none is required).")
    photographer_name = serializers.CharField()
    photographer_url = serializers.CharField()
    source_page_url = serializers.CharField()
    content_rating = serializers.CharField()


class AvatarAttributesSerializer(CompiledSerializer):
    """Who the avatar shows, in the values the list's filters take (empty when not known)."""

    gender = serializers.CharField()
    age_group = serializers.CharField()
    ethnicity = serializers.CharField()
    hair_color = serializers.CharField()
    emotion = serializers.CharField()


class AvatarSerializer(CompiledSerializer):
    """One premade avatar, as the list and the detail endpoints send it."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    alt = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    style = serializers.CharField(help_text="photo, synthetic or illustration.")
    attributes = AvatarAttributesSerializer(source="*")
    dominant_color = serializers.CharField()
    color_family = serializers.CharField()
    placeholder = serializers.CharField(help_text="A tiny blurred WebP data: URL to paint while the image loads.")
    variants = VariantSerializer(many=True, source="downloads")
    provenance = AvatarProvenanceSerializer(source="*")
    download_count = serializers.IntegerField()
    created_at = IsoDateTimeField()


class AvatarPageSerializer(CompiledSerializer):
    """A page of the list: its avatars and the address of the next page."""

    results = AvatarSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page (keeps your filters), or null at the end.")


class AvatarFacetsSerializer(serializers.Serializer):
    """For each filter of the list, its values that have avatars and how many."""

    source = serializers.DictField(child=serializers.IntegerField(), help_text="Avatars per source slug.")
    gender = serializers.DictField(child=serializers.IntegerField())
    age_group = serializers.DictField(child=serializers.IntegerField())
    style = serializers.DictField(child=serializers.IntegerField())
    color = serializers.DictField(child=serializers.IntegerField())
    orientation = serializers.DictField(child=serializers.IntegerField())


def avatar_page_body(*, avatars: list[Avatar], next_url: str | None) -> dict:
    """The list endpoint's body: the page's avatars and the next page's address (None at the end)."""
    return AvatarPageSerializer(SimpleNamespace(results=avatars, next=next_url)).data


def avatar_body(avatar: Avatar) -> dict:
    """The detail endpoint's body: one avatar."""
    return AvatarSerializer(avatar).data


def avatar_facets_body(counts: dict[str, dict[str, int]]) -> dict:
    """The facets endpoint's body, from gallery.facets.avatar_facets."""
    return AvatarFacetsSerializer(counts).data
