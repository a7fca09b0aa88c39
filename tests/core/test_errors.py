"""Every domain error is an ApplicationError that the API's one exception handler answers with its
status and the API's error body; anything else still reaches Django as a 500."""

import json
from datetime import timedelta

import pytest
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

import billing.services
import generation.errors
from avatarsite.core.errors import ApplicationError
from generation.models import ErrorKind
from generation.providers import base as provider_base
from generation.quotas import QuotaStatus, QuotaWindow

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

RESETS_AT = timezone.now().replace(microsecond=0) + timedelta(minutes=30)
QUOTA = QuotaStatus((QuotaWindow("hour", 5, 5, RESETS_AT),))

# Each ApplicationError subclass, one instance of it, and the status and body the API answers it with.
CASES = {
    generation.errors.TryItUnavailableError: (
        generation.errors.TryItUnavailableError("fal is not set up here (no settings entry, or no key)."),
        400,
        {
            "code": "invalid",
            "message": "fal is not set up here (no settings entry, or no key).",
            "details": {"non_field_errors": ["fal is not set up here (no settings entry, or no key)."]},
        },
    ),
    generation.errors.GenerationError: (
        generation.errors.GenerationError("Describe the avatar you want.", field="prompt"),
        400,
        {"code": "invalid", "message": "Describe the avatar you want.", "details": {"prompt": ["Describe the avatar you want."]}},
    ),
    generation.errors.PromptRefusedError: (
        generation.errors.PromptRefusedError("Not this.", field="prompt"),
        400,
        {"code": "prompt_refused", "message": "Not this.", "details": {"prompt": ["Not this."]}},
    ),
    generation.errors.StyleUnavailableError: (
        generation.errors.StyleUnavailableError("No AI here.", available_styles=["cartoon", "pixel"]),
        400,
        {
            "code": "style_unavailable",
            "message": "No AI here.",
            "details": {"style": ["No AI here."], "available_styles": ["cartoon", "pixel"]},
        },
    ),
    generation.errors.JobNotCancelableError: (
        generation.errors.JobNotCancelableError("This job has already succeeded.", job_status="succeeded"),
        409,
        {"code": "not_cancelable", "message": "This job has already succeeded.", "details": {"status": "succeeded"}},
    ),
    generation.errors.IdempotencyConflictError: (
        generation.errors.IdempotencyConflictError(),
        409,
        {
            "code": "idempotency_conflict",
            "message": "This Idempotency-Key was already used with a different request body.",
            "details": {},
        },
    ),
    generation.errors.QuotaExceededError: (
        generation.errors.QuotaExceededError(QUOTA, 1),
        429,
        {
            "code": "quota_exceeded",
            "message": f"Your plan's generation quota is used up until {RESETS_AT:%Y-%m-%d %H:%M} UTC.",
            "details": {
                "resets_at": RESETS_AT.isoformat(),
                "retry_after": "<any>",
                "windows": [{"window": "hour", "limit": 5, "used": 5, "left": 0, "resets_at": RESETS_AT.isoformat()}],
            },
        },
    ),
    generation.errors.WebhookUrlError: (
        generation.errors.WebhookUrlError("Webhooks go only to https URLs."),
        400,
        {"code": "invalid", "message": "Webhooks go only to https URLs.", "details": {"webhook_url": ["Webhooks go only to https URLs."]}},
    ),
    billing.services.BillingError: (
        billing.services.BillingError("You are already on Premium."),
        400,
        {"code": "billing_refused", "message": "You are already on Premium.", "details": {}},
    ),
    billing.services.BillingUnavailableError: (
        billing.services.BillingUnavailableError("Payments are not set up on this site yet."),
        503,
        {"code": "billing_unavailable", "message": "Payments are not set up on this site yet.", "details": {}},
    ),
    billing.services.ApiKeyError: (
        billing.services.ApiKeyError("Key names are 60 characters at most.", field="name"),
        400,
        {
            "code": "invalid",
            "message": "Key names are 60 characters at most.",
            "details": {"name": ["Key names are 60 characters at most."]},
        },
    ),
    billing.services.ApiAccessUnavailableError: (
        billing.services.ApiAccessUnavailableError("Your Free plan does not include the API."),
        403,
        {"code": "api_access_unavailable", "message": "Your Free plan does not include the API.", "details": {}},
    ),
    billing.services.ApiKeyLimitError: (
        billing.services.ApiKeyLimitError("You already have 3 active API keys."),
        409,
        {"code": "api_key_limit", "message": "You already have 3 active API keys.", "details": {}},
    ),
    billing.services.ApiKeyNotFoundError: (
        billing.services.ApiKeyNotFoundError("No such API key."),
        404,
        {"code": "not_found", "message": "No such API key.", "details": {}},
    ),
}


def _all_subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_all_subclasses(direct)}}


class _Raises(APIView):
    """An API view that raises whatever the test hands it, answered by the project's exception handler."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    exc: Exception = RuntimeError("boom")

    def get(self, request):
        raise type(self).exc


urlpatterns = [path("raises/", _Raises.as_view())]


def test_every_application_error_is_covered_here():
    found = {cls for cls in _all_subclasses(ApplicationError) if not cls.__module__.startswith("tests.")}
    assert found == set(CASES)


# The quota error's body holds a time that moves (retry_after): it has a test of its own below.
SAME_SHAPE = [cls for cls in CASES if cls is not generation.errors.QuotaExceededError]


@pytest.mark.parametrize("cls", SAME_SHAPE, ids=lambda cls: cls.__name__)
def test_each_error_is_answered_with_its_status_and_body(client, monkeypatch, cls):
    exc, status, body = CASES[cls]
    monkeypatch.setattr(_Raises, "exc", exc)
    response = client.get("/raises/")
    assert response.status_code == status
    assert json.loads(response.content)["error"] == body
    assert str(exc) == exc.message  # logs and pages show the same words as the API


def test_the_quota_error_is_answered_with_429_and_when_to_retry(client, monkeypatch):
    exc, status, body = CASES[generation.errors.QuotaExceededError]
    monkeypatch.setattr(_Raises, "exc", exc)
    response = client.get("/raises/")
    assert response.status_code == status
    answer = json.loads(response.content)["error"]
    retry_after = answer["details"]["retry_after"]
    assert 1 <= retry_after <= 30 * 60
    assert response["Retry-After"] == str(retry_after)  # the header and the body agree
    assert answer == {**body, "details": {**body["details"], "retry_after": retry_after}}
    assert str(exc) == exc.message


def test_an_unknown_exception_is_still_a_500(client, monkeypatch):
    monkeypatch.setattr(_Raises, "exc", RuntimeError("a bug"))
    client.raise_request_exception = False
    response = client.get("/raises/")
    assert response.status_code == 500
    client.raise_request_exception = True
    with pytest.raises(RuntimeError, match="a bug"):  # not swallowed by the handler
        client.get("/raises/")


def test_every_provider_error_kind_is_an_error_kind():
    kinds = {cls.kind for cls in [provider_base.ProviderError, *_all_subclasses(provider_base.ProviderError)]}
    assert kinds <= set(ErrorKind.values)
