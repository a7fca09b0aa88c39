"""API plumbing shared by every app: the error shape and a per-IP throttle read from settings at call time,
raised for requests whose credential carries its own rate (an API key)."""

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .client_address import client_address
from .counters import counter_hit
from .errors import ApplicationError


def error_body(*, code: str, message: str, details: Any = None) -> dict:
    """The one error shape of the API: {"error": {"code", "message", "details"}}."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def api_error(*, code: str, message: str, http_status: int, details: Any = None) -> Response:
    return Response(error_body(code=code, message=message, details=details), status=http_status)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every ApplicationError and every DRF error, in the API's error shape, with DRF's headers
    (Retry-After, WWW-Authenticate) kept; anything else is left to Django (a 500)."""
    if isinstance(exc, ApplicationError):
        response = api_error(code=exc.code, message=exc.message, http_status=exc.http_status, details=exc.details())
        for name, value in exc.headers().items():
            response[name] = value
        return response
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": "Some parameters are not valid.", "details": response.data}
    elif isinstance(exc, exceptions.Throttled):
        body = {"code": "throttled", "message": f"Too many requests; retry in {exc.wait or 1:.0f} s.", "details": {"retry_after": exc.wait}}
    elif isinstance(exc, Http404 | exceptions.NotFound):
        body = {"code": "not_found", "message": "Not found.", "details": {}}
    else:
        detail = getattr(exc, "detail", str(exc))
        body = {"code": getattr(exc, "default_code", "error"), "message": str(detail), "details": {}}
    response.data = {"error": body}
    return response


class StrictSerializer(serializers.Serializer):
    """Parameters or a body that must hold nothing but the declared fields: a misspelt name is a 400
    naming it, not silently ignored."""

    unknown_message = "Unknown parameter."

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise exceptions.ValidationError({name: [self.unknown_message] for name in sorted(unknown)})
        return attrs


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class CredentialRequired(BasePermission):
    """Only requests that authenticated (with an API key): anonymous ones get 401 with the Bearer
    challenge, where the public read endpoints stay open to them."""

    message = "Send your API key: Authorization: Bearer <key>."
    code = "not_authenticated"

    def has_permission(self, request, view) -> bool:
        return request.user is not None and request.auth is not None


@runtime_checkable
class RateCredential(Protocol):
    """What an authentication class may put in `request.auth` to raise the throttle: its rate and the
    bucket its requests are counted in. Defined here so the throttle needs no app (billing's API key
    credential has both); the apps that serve the API never learn where a credential comes from."""

    @property
    def rate_per_minute(self) -> int: ...

    @property
    def throttle_ident(self) -> str: ...


def _rate_credential(request) -> RateCredential | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, RateCredential) else None


@dataclass(frozen=True)
class RateLimit:
    """Where a request left its rate-limit window: sent back as X-RateLimit-* headers."""

    limit: int
    remaining: int
    reset_at: int  # when the window ends, in Unix seconds

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining), "X-RateLimit-Reset": str(self.reset_at)}


class PublicIpThrottle(SimpleRateThrottle):
    """Per client IP, at settings.PUBLIC_API_RATE_PER_MINUTE (read per request, so operators and tests can change it);
    a request with a `RateCredential` (an API key) is counted per credential at its rate instead: the plan's rate, as the
    pricing page says it, even where it is below the public one (the free plan's).

    A fixed one-minute window counted with one atomic increment, instead of DRF's default log of
    every request's timestamp (read, unpickled, appended and written back on each request, so its
    cost grows with the rate and concurrent requests can overwrite each other's entries).
    """

    scope = "public"

    def get_rate(self) -> str:
        return f"{settings.PUBLIC_API_RATE_PER_MINUTE}/min"

    def get_ident(self, request) -> str:
        return client_address(request)

    def get_cache_key(self, request, view) -> str:
        credential = _rate_credential(request)
        if credential is not None:
            return self.cache_format % {"scope": "credential", "ident": credential.throttle_ident}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        credential = _rate_credential(request)
        self.rate = self.get_rate() if credential is None else f"{credential.rate_per_minute}/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        now = self.timer()
        window = int(now // self.duration)
        count = counter_hit(f"{self.get_cache_key(request, view)}:{window}", self.duration + 1)
        self._wait = (window + 1) * self.duration - now
        remaining = max(0, self.num_requests - count)
        request.rate_limit = RateLimit(limit=self.num_requests, remaining=remaining, reset_at=(window + 1) * self.duration)
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1.0, self._wait)


class ThrottledApiView(APIView):
    """An API view counted by PublicIpThrottle, whose every answer (a 429 too) tells the caller its
    limit, what is left of it and when the window resets (X-RateLimit-Limit/Remaining/Reset)."""

    throttle_classes = [PublicIpThrottle]

    def handle_exception(self, exc: Exception) -> Response:
        # An answer refused before the throttle ran (a missing, bad or revoked key: 401; a plan
        # without the API: 403) is counted as the anonymous request it is, per address, so it
        # carries the headers too and a client guessing keys spends the address's allowance.
        # Only the API's own refusals: after anything else (the database down while the key was
        # looked up) the credential is unknown, and asking for it would look the key up again.
        request = self.request
        refused = isinstance(exc, exceptions.APIException) and not isinstance(exc, exceptions.Throttled)
        if refused and getattr(request, "rate_limit", None) is None:
            PublicIpThrottle().allow_request(request, self)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        rate_limit = getattr(request, "rate_limit", None)
        if rate_limit is not None:
            for name, value in rate_limit.headers().items():
                response[name] = value
        return response


__all__ = [
    "CredentialRequired", "PublicIpThrottle", "RateCredential", "RateLimit", "RequestTooLarge", "StrictSerializer",
    "ThrottledApiView", "api_error", "error_body", "exception_handler", "status",
]  # fmt: skip
