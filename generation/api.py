"""Generation API for API-key holders: create (idempotently), list, read and cancel one's own jobs."""

import uuid

from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from avatarsite.core.api import CredentialRequired, RequestTooLarge, StrictSerializer, ThrottledApiView
from avatarsite.core.openapi import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    RATE_LIMIT_HEADERS,
    THROTTLED,
    TOO_LARGE,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA,
    error_response,
)

from .api_docs import (
    CANCELED_EXAMPLES,
    CREATE_REQUEST_EXAMPLES,
    JOB_EXAMPLES,
    JOB_PAGE_EXAMPLES,
    JOB_QUEUED_EXAMPLES,
    USAGE_EXAMPLES,
)
from .deliveries import WebhookUrlError, webhook_url_check
from .idempotency import MAX_KEY_LENGTH, generation_job_create_idempotent
from .models import GenerationJob
from .payloads import JobPageSerializer, JobSerializer, UsageSerializer
from .selectors import job_get_for_user, job_list_for_user
from .services import (
    MAX_PROMPT_LENGTH,
    generation_job_cancel,
    generation_job_create,
)
from .spend import api_usage
from .styles import STYLES

MAX_BODY_BYTES = 16 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"


class GenerationCreateParams(StrictSerializer):
    """The body's shape; what the plan allows (size, image count, AI availability) is the service's to say."""

    unknown_message = "Unknown field."
    prompt = serializers.CharField(max_length=MAX_PROMPT_LENGTH)
    style = serializers.ChoiceField(
        choices=STYLES,
        required=False,
        help_text="Omitted: photo where this site has an AI service for your plan, else the first instant style. A style the "
        "site cannot make is refused (400, code style_unavailable), never drawn by something else.",
    )
    size = serializers.IntegerField(required=False, allow_null=True, min_value=256, max_value=4096)
    seed = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Omitted: derived from the request, so the same request is answered from its stored result at no cost. "
        "Another seed asks for a variation.",
    )
    num_images = serializers.IntegerField(required=False, default=1, min_value=1, max_value=16)
    webhook_url = serializers.URLField(required=False, max_length=2000, allow_blank=True, default="")

    def validate_webhook_url(self, value: str) -> str:
        if not value:
            return value
        try:
            return webhook_url_check(value)
        except WebhookUrlError as exc:
            raise ValidationError(str(exc)) from exc


class GenerationListParams(StrictSerializer):
    status = serializers.ChoiceField(required=False, choices=GenerationJob.Status.values)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)
    cursor = serializers.CharField(required=False, max_length=500)


class UsageParams(StrictSerializer):
    """None: the usage is always this month's."""


class JobCursorPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
            # DRF hands the position to the query as it came: a forged one must not reach the database.
            if cursor is not None and cursor.position is not None:
                position = parse_datetime(cursor.position)
                if position is None or position.tzinfo is None:  # the real ones are aware times
                    raise NotFound()
        except (NotFound, ValueError) as exc:  # DRF answers 404 for a bad cursor; it is a bad parameter
            raise ValidationError({"cursor": ["Invalid cursor."]}) from exc
        return cursor


def job_context(request: Request) -> dict:
    """What the job serializers need from a request: each job's address and the site its links are on."""
    return {
        "job_url": lambda job_id: request.build_absolute_uri(reverse("api-generation-detail", args=[job_id])),
        "api_base_url": request.build_absolute_uri("/"),
    }


def job_json(job: GenerationJob, *, request: Request) -> dict:
    """The job as the API shows it; images (with URLs and provenance) once it succeeded."""
    return JobSerializer(job, context=job_context(request)).data


def _own_job(request: Request, job_id: str) -> GenerationJob:
    """The caller's job, or 404 for a malformed id, an unknown one and someone else's alike."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError as exc:
        raise NotFound() from exc
    job = job_get_for_user(job_id=parsed, user_id=request.user.pk)
    if job is None:
        raise NotFound()
    return job


class _KeyApi(ThrottledApiView):
    permission_classes = [CredentialRequired]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # Checked before the body is read: Django reads no more than Content-Length bytes.
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise RequestTooLarge(f"The request body is over {MAX_BODY_BYTES // 1024} KB.")


KEYED_ERRORS = {401: UNAUTHENTICATED, 403: FORBIDDEN, 429: THROTTLED}
QUOTA_EXCEEDED = error_response(
    "Over the per-minute rate, or the plan's generation quota is spent (Retry-After says when it resets).", "quota_exceeded",
    "Your plan's generation quota is used up until 2026-11-24 13:00 UTC.",
    {"resets_at": "2026-11-24T13:00:00+00:00", "retry_after": 1260,
     "windows": [{"window": "hour", "limit": 50, "used": 50, "left": 0, "resets_at": "2026-11-24T13:00:00+00:00"}]},
)  # fmt: skip
NOT_CANCELABLE = error_response(
    "The job has already finished.", "not_cancelable", "This job has already succeeded.", {"status": "succeeded"}
)
IDEMPOTENCY_CONFLICT = error_response(
    "This Idempotency-Key was used with another body; or the job has already finished (cancel).",
    "idempotency_conflict",
    "This Idempotency-Key was already used with a different request body.",
)


class GenerationListApi(_KeyApi):
    @extend_schema(
        tags=["generations"],
        summary="Your jobs, newest first",
        operation_id="generations_list",
        parameters=[GenerationListParams, *RATE_LIMIT_HEADERS],
        responses={200: OpenApiResponse(JobPageSerializer, examples=JOB_PAGE_EXAMPLES), 400: INVALID, **KEYED_ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = GenerationListParams(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        jobs = job_list_for_user(user_id=request.user.pk).prefetch_related("images")
        if "status" in params.validated_data:
            jobs = jobs.filter(status=params.validated_data["status"])
        paginator = JobCursorPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        body = JobPageSerializer({"results": page, "next": paginator.get_next_link()}, context=job_context(request))
        return Response(body.data)

    @extend_schema(
        tags=["generations"],
        summary="Generate avatars",
        operation_id="generations_create",
        description="Queues a job on your plan's lane and answers at once (202, with its Location). Poll the job, or pass "
        "`webhook_url` to be told when it ends.",
        request=GenerationCreateParams,
        examples=CREATE_REQUEST_EXAMPLES,
        parameters=[
            OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, description="Makes retries safe (≤ 255 chars)."),
            OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202], description="The new job's URL."),
            *RATE_LIMIT_HEADERS,
        ],
        responses={
            202: OpenApiResponse(JobSerializer, examples=JOB_QUEUED_EXAMPLES), 400: INVALID, 401: UNAUTHENTICATED, 403: FORBIDDEN,
            409: IDEMPOTENCY_CONFLICT, 413: TOO_LARGE, 415: UNSUPPORTED_MEDIA, 429: QUOTA_EXCEEDED,
        },
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
            raise ValidationError({IDEMPOTENCY_HEADER: [f"Use at most {MAX_KEY_LENGTH} printable ASCII characters."]})
        params = GenerationCreateParams(data=request.data)
        params.is_valid(raise_exception=True)
        payload = dict(params.validated_data)
        if not payload["webhook_url"]:
            del payload["webhook_url"]  # absent or empty: the body hashes as before webhooks existed
        else:
            payload["api_key_id"] = request.auth.key.pk  # its secret signs the webhook
        # A refused request (GenerationError, IdempotencyConflictError, QuotaExceededError) is answered by
        # the API's exception handler from the error itself.
        if key:
            result = generation_job_create_idempotent(user_id=request.user.pk, key=key, payload=payload, plan=request.auth.plan)
            job, replayed = result.job, result.replayed
        else:
            job, replayed = generation_job_create(user_id=request.user.pk, plan=request.auth.plan, **payload), False
        response = Response(job_json(job, request=request), status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api-generation-detail", args=[job.id])
        if key:
            response["Idempotent-Replayed"] = "true" if replayed else "false"
        return response


class GenerationDetailApi(_KeyApi):
    @extend_schema(
        tags=["generations"],
        summary="One of your jobs",
        operation_id="generations_get",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: OpenApiResponse(JobSerializer, examples=JOB_EXAMPLES), 404: NOT_FOUND, **KEYED_ERRORS},
    )
    def get(self, request: Request, job_id: str) -> Response:
        return Response(job_json(_own_job(request, job_id), request=request))


class GenerationCancelApi(_KeyApi):
    @extend_schema(
        tags=["generations"],
        summary="Cancel a queued or running job",
        operation_id="generations_cancel",
        description="Its quota comes back unless a provider already delivered it.",
        request=None,
        parameters=RATE_LIMIT_HEADERS,
        responses={
            200: OpenApiResponse(JobSerializer, examples=CANCELED_EXAMPLES), 404: NOT_FOUND,
            409: NOT_CANCELABLE,
            **KEYED_ERRORS,
        },
    )  # fmt: skip
    def post(self, request: Request, job_id: str) -> Response:
        job = generation_job_cancel(job=_own_job(request, job_id))  # JobNotCancelableError: the handler's 409
        return Response(job_json(job, request=request))


class UsageApi(_KeyApi):
    """The caller's plan, its quota windows (an empty list: no quota) and this calendar month's use and spend."""

    @extend_schema(
        tags=["usage"],
        summary="Your plan, quotas and this month's use",
        operation_id="usage_get",
        parameters=RATE_LIMIT_HEADERS,
        responses={200: OpenApiResponse(UsageSerializer, examples=USAGE_EXAMPLES), 400: INVALID, **KEYED_ERRORS},
    )
    def get(self, request: Request) -> Response:
        UsageParams(data=request.query_params.dict()).is_valid(raise_exception=True)
        return Response(UsageSerializer(api_usage(user_id=request.user.pk, plan=request.auth.plan)).data)
