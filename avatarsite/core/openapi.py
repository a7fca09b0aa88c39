"""What the OpenAPI schema (drf-spectacular) needs beyond the apps' serializers: the API-key security
scheme, the error shape every endpoint shares, and the serializer parts both apps' bodies use (a
variant, a time). Each app's `payloads.py` holds output serializers that build its bodies and are
their schema too; its `api_docs.py` only examples."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .api import error_body


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "billing.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "avk_<8 chars>_<40 chars>",
            "description": "An API key from the account page (plans with the API): `Authorization: Bearer avk_…`.",
        }


class VariantSerializer(serializers.Serializer):
    """One stored rendition of an image, premade or generated."""

    size = serializers.IntegerField(help_text="Side in pixels (square).")
    format = serializers.ChoiceField(choices=["jpeg", "webp"])
    url = serializers.URLField(help_text="Premade: on the CDN, immutable. Generated: signed, valid for 10 minutes.")
    bytes = serializers.IntegerField()


class IsoDateTimeField(serializers.DateTimeField):
    """A time as Python writes it, in its own zone (2026-11-24T12:00:00+00:00), as the bodies always
    have (DRF's own field would write the UTC offset as Z)."""

    def to_representation(self, value) -> str:
        return value.isoformat()


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: invalid, not_authenticated, throttled, quota_exceeded, …")
    message = serializers.CharField(help_text="For people: what is wrong and what to do.")
    details = serializers.DictField(help_text="Per-field messages for `invalid`; retry_after and windows for limits.")


class Error(serializers.Serializer):
    error = ErrorBody()


def error_response(description: str, code: str, message: str, details: dict | None = None) -> OpenApiResponse:
    example = OpenApiExample(code, value=error_body(code=code, message=message, details=details))
    return OpenApiResponse(Error, description=description, examples=[example])


INVALID = error_response("Invalid parameters or body; details name each field.", "invalid", "Some parameters are not valid.",
                         {"limit": ["Ensure this value is less than or equal to 100."]})  # fmt: skip
UNAUTHENTICATED = error_response("No key, or a malformed, unknown or revoked one.", "not_authenticated",
                                 "Send your API key: Authorization: Bearer <key>.")  # fmt: skip
FORBIDDEN = error_response("The key's owner is on a plan without the API.", "api_access_unavailable",
                           "Your Free plan does not include the API: it comes with the Premium or Enterprise plan.")  # fmt: skip
TOO_LARGE = error_response("The body is over 16 KB.", "request_too_large", "The request body is over 16 KB.")
UNSUPPORTED_MEDIA = error_response("The body is not JSON.", "unsupported_media_type", 'Unsupported media type "text/plain" in request.')
NOT_FOUND = error_response("Unknown, or someone else's (never told apart).", "not_found", "Not found.")
THROTTLED = error_response("Over the per-minute rate (see the X-RateLimit-* headers and Retry-After).", "throttled",
                           "Too many requests; retry in 12 s.", {"retry_after": 12.0})  # fmt: skip

# Sent with every answer of a throttled endpoint.
RATE_LIMIT_HEADERS = [
    OpenApiParameter("X-RateLimit-Limit", int, OpenApiParameter.HEADER, response=True, description="Requests allowed per minute."),
    OpenApiParameter("X-RateLimit-Remaining", int, OpenApiParameter.HEADER, response=True, description="Left in this minute."),
    OpenApiParameter("X-RateLimit-Reset", int, OpenApiParameter.HEADER, response=True, description="When this minute ends (Unix seconds)."),
]
