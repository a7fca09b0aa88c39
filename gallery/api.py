"""Public read API of the gallery: GET /api/v1/avatars and /api/v1/avatars/{id} (no key, throttled per IP)."""

import hashlib
from urllib.parse import urlencode

from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from avatarsite.core.api import StrictSerializer, ThrottledApiView
from avatarsite.core.openapi import INVALID, NOT_FOUND, RATE_LIMIT_HEADERS, THROTTLED, UNAUTHENTICATED

from .api_docs import AVATAR_EXAMPLES, AVATAR_FACETS_EXAMPLES, AVATAR_PAGE_EXAMPLES
from .forms import AGE_GROUPS, GENDERS
from .imaging import COLOR_FAMILIES
from .models import Avatar
from .page_cache import cached_page
from .payloads import AvatarFacetsSerializer, AvatarPageSerializer, AvatarSerializer, avatar_body, avatar_facets_body, avatar_page_body
from .selectors import ORIENTATIONS, SORTS, AvatarFilters, InvalidCursor, avatar_facets, avatar_get, avatar_page, source_is_live

_HAS_AVATARS = " Which values have avatars now, and how many: `GET /api/v1/avatars/facets`."


class AvatarFilterParams(StrictSerializer):
    q = serializers.CharField(required=False, max_length=100, allow_blank=True, help_text="Words in the title, tags or description.")
    source = serializers.SlugField(required=False, help_text="A source's slug (pexels, generated_photos, demo)." + _HAS_AVATARS)
    gender = serializers.ChoiceField(required=False, choices=GENDERS, help_text="Any of the listed values." + _HAS_AVATARS)
    age_group = serializers.ChoiceField(required=False, choices=AGE_GROUPS, help_text="Any of the listed values." + _HAS_AVATARS)
    style = serializers.ChoiceField(required=False, choices=Avatar.Style.values, help_text="Any of the listed values." + _HAS_AVATARS)
    color = serializers.ChoiceField(required=False, choices=COLOR_FAMILIES, help_text="The main colour." + _HAS_AVATARS)
    orientation = serializers.ChoiceField(required=False, choices=ORIENTATIONS, help_text="Of the original picture." + _HAS_AVATARS)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if attrs.get("source") and not source_is_live(slug=attrs["source"]):
            raise ValidationError({"source": [f"No source '{attrs['source']}'."]})
        return attrs


class AvatarListParams(AvatarFilterParams):
    sort = serializers.ChoiceField(required=False, choices=list(SORTS), default="newest")
    cursor = serializers.CharField(required=False, max_length=200)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)


class AvatarListApi(ThrottledApiView):
    @extend_schema(
        tags=["avatars"],
        summary="List premade avatars",
        operation_id="avatars_list",
        description="Newest or most popular first, filtered and searched; follow `next` for the next page (keyset cursor).",
        parameters=[AvatarListParams, *RATE_LIMIT_HEADERS],
        responses={
            200: OpenApiResponse(AvatarPageSerializer, examples=AVATAR_PAGE_EXAMPLES),
            400: INVALID,
            401: UNAUTHENTICATED,
            429: THROTTLED,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        def build() -> tuple[bytes, str]:
            # Validated here, once per request shape and gallery version: a page is only ever cached
            # for valid parameters (an error is raised, not stored), and a hit skips the serializer.
            params = AvatarListParams(data=request.query_params.dict())
            params.is_valid(raise_exception=True)
            data = params.validated_data
            filters = AvatarFilters(**{k: v for k, v in data.items() if k not in ("cursor", "limit")})
            page = avatar_page(filters=filters, after=data.get("cursor", ""), limit=data["limit"])
            next_url = None
            if page.next_cursor:
                query = {**request.query_params.dict(), "cursor": page.next_cursor}
                next_url = request.build_absolute_uri(f"{request.path}?{urlencode(query)}")
            body = JSONRenderer().render(avatar_page_body(avatars=page.avatars, next_url=next_url))
            return body, quote_etag(hashlib.blake2b(body, digest_size=16).hexdigest())

        # The rendered body is cached per gallery version: a hit in this process costs one cache read (the version), no SQL.
        shape = (request.scheme, request.get_host(), sorted(request.query_params.lists()))
        try:
            body, etag = cached_page("api-list", shape, build)
        except InvalidCursor as exc:
            raise ValidationError({"cursor": [str(exc)]}) from exc
        response = get_conditional_response(request, etag=etag) or HttpResponse(body, content_type="application/json")
        response["ETag"] = etag
        return response


class AvatarFacetsApi(ThrottledApiView):
    @extend_schema(
        tags=["avatars"],
        summary="How many avatars each filter value has",
        operation_id="avatars_facets",
        description=(
            "For each filter of `GET /api/v1/avatars`, its values that have avatars and how many, given the other filters sent"
            " (a filter's own value is left out of its counts, so they say what choosing another value gives). Counts may"
            " lag a running import by up to a minute."
        ),
        parameters=[AvatarFilterParams, *RATE_LIMIT_HEADERS],
        responses={
            200: OpenApiResponse(AvatarFacetsSerializer, examples=AVATAR_FACETS_EXAMPLES),
            400: INVALID,
            401: UNAUTHENTICATED,
            429: THROTTLED,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        def build() -> bytes:
            params = AvatarFilterParams(data=request.query_params.dict())
            params.is_valid(raise_exception=True)
            return JSONRenderer().render(avatar_facets_body(avatar_facets(filters=AvatarFilters(**params.validated_data))))

        body = cached_page("api-facets", (sorted(request.query_params.lists()),), build)
        return HttpResponse(body, content_type="application/json")


class AvatarDetailApi(ThrottledApiView):
    @extend_schema(
        tags=["avatars"],
        summary="One premade avatar",
        operation_id="avatars_get",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: OpenApiResponse(AvatarSerializer, examples=AVATAR_EXAMPLES), 401: UNAUTHENTICATED, 404: NOT_FOUND, 429: THROTTLED},
    )
    def get(self, request: Request, avatar_id: int) -> Response:
        avatar = avatar_get(avatar_id=avatar_id)
        if avatar is None:
            raise NotFound()
        return Response(avatar_body(avatar))
