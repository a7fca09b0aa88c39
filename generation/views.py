"""Generation pages: the form (with what a request will cost and when it will be ready), one job's
live page, its JSON state, its downloads, cancel, and the "My avatars" history."""

import contextlib
import hashlib
import math
import mimetypes
import secrets
import uuid

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import storages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings

from avatarsite.core.api import error_body
from avatarsite.core.errors import form_error_from
from avatarsite.core.storage import attachment_url
from billing.entitlements import entitlements

from .estimates import generate_estimate
from .file_links import TOKEN_PARAMETER, file_token_valid
from .forms import SIZES, GenerateForm
from .models import GenerationJob
from .payloads import job_made_with, job_state
from .presenters import estimate_state, job_thumbnail_url, similar_state
from .prompts import PROMPT_SUGGESTIONS, SURPRISE_PROMPTS
from .quotas import QuotaExceededError, quota_status
from .selectors import (
    job_attempts,
    job_get,
    job_get_for_user,
    job_list_for_user,
    similar_for_prompt,
    style_preview_webp,
    variant_download_get,
)
from .services import GenerationError, JobNotCancelableError, generation_job_cancel, generation_job_create
from .sizes import plan_sizes
from .styles import STYLES


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    plan = entitlements(user_id=request.user.pk)
    form = GenerateForm(request.POST or None, plan=plan)
    quota_error = None
    if request.method == "POST" and form.is_valid():
        try:
            job = generation_job_create(
                user_id=request.user.pk,
                prompt=form.cleaned_data["prompt"],
                style=form.cleaned_data["style"],
                size=form.cleaned_data["size"],
                num_images=form.cleaned_data["num_images"],
                seed=form.cleaned_data["seed"],
                plan=plan,
            )
        except GenerationError as exc:
            form_error_from(exc, form)
        except QuotaExceededError as exc:
            quota_error = exc
        else:
            return redirect("generation:job", job_id=job.id)
    style = form.chosen_style()
    size, count = _int_or(form["size"].value(), 1024), _int_or(form["num_images"].value(), 1)
    context = {
        "form": form,
        "plan": plan,
        "quota": quota_status(user_id=request.user.pk, plan=plan, now=timezone.now()),
        "quota_error": quota_error,
        "styles": form.style_choices,
        "chosen_style": style,
        # Before anything is submitted: what it costs, where it would stand and when it would be ready
        # (the page asks /generate/estimate/ again as the choices change).
        "estimate": estimate_state(generate_estimate(user_id=request.user.pk, plan=plan, style=style, size=size, num_images=count)),
        "suggestions": PROMPT_SUGGESTIONS,
        "surprises": SURPRISE_PROMPTS,
        "recent": [(job, job_thumbnail_url(job=job)) for job in job_list_for_user(user_id=request.user.pk).prefetch_related("images")[:6]],
    }
    return render(request, "generation/index.html", context, status=429 if quota_error else 200)


def _int_or(value: object, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@require_GET
def estimate(request: HttpRequest) -> JsonResponse:
    """The generate form's cost, lane and ETA line for the choices made so far (the page asks as they change)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": {"code": "not_authenticated", "message": "Sign in first.", "details": {}}}, status=401)
    plan = entitlements(user_id=request.user.pk)
    style = request.GET.get("style", "")
    size, count = _int_or(request.GET.get("size"), 0), _int_or(request.GET.get("num_images", 1), 0)
    problems = {}
    if style not in STYLES:
        problems["style"] = [f"Choose one of {', '.join(STYLES)}."]
    offer = plan_sizes(plan)
    offered = [s for s in SIZES if s <= offer.offered_max]
    if size not in offered:
        problems["size"] = [f"Choose one of {', '.join(str(s) for s in offered)}."]
    if not 1 <= count <= offer.offered_images:
        problems["num_images"] = [f"Your plan allows 1 to {offer.offered_images} images per request."]
    if problems:
        return JsonResponse({"error": {"code": "invalid", "message": "Check the choices.", "details": problems}}, status=400)
    found = generate_estimate(user_id=request.user.pk, plan=plan, style=style, size=size, num_images=count)
    return JsonResponse(estimate_state(found), headers={"Cache-Control": "no-store"})


@require_GET
def style_preview(request: HttpRequest, style: str) -> HttpResponse:
    """A sample avatar of an instant style, for the style picker: drawn at first use, then cached."""
    data = style_preview_webp(style=style)
    if data is None:
        raise Http404("No preview for this style")
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("If-None-Match") == etag:
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(data, content_type="image/webp", headers=headers)


def _own_job(request: HttpRequest, job_id: uuid.UUID):
    job = job_get_for_user(job_id=job_id, user_id=request.user.pk)
    if job is None:  # someone else's job and a missing one look the same
        raise Http404("No such job")
    return job


@login_required
@require_GET
def job(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _own_job(request, job_id)
    context = {
        "job": job,
        "state": job_state(job=job),
        "attempts": job_attempts(job=job),
        "similar": similar_state(similar_for_prompt(user_id=request.user.pk, prompt=job.prompt)),
        # "Generate again" asks for a variation: the same request without a seed would be answered
        # from this job's stored result.
        "new_seed": secrets.randbelow(2**31),
    }
    return render(request, "generation/job.html", context)


@login_required
@require_GET
def job_status(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    """The websocket's state for clients that poll instead."""
    return JsonResponse(job_state(job=_own_job(request, job_id)))


@require_safe
def image_download(request: HttpRequest, job_id: uuid.UUID, index: int, size: int, fmt: str) -> HttpResponse:
    """One size and format of the user's result as a download with a readable name: a redirect to
    a signed URL that says so (R2), or the file itself (local files; read whole, not streamed from
    a synchronous iterator, which an ASGI server would have to drain in a thread).

    Only its owner gets it, known by one of: the link's token (`?token=`, the links the API hands
    out: valid a few minutes, for this file only), their API key (`Authorization: Bearer`), or
    their session (the site's pages). Someone else's job is a 404, as a missing one; without any
    of them a client gets 401 and a browser the sign-in page."""
    job = _file_job(request, job_id=job_id, index=index, size=size, fmt=fmt)
    if isinstance(job, HttpResponse):
        return job
    download = variant_download_get(job=job, index=index, size=size, fmt=fmt)
    if download is None:
        raise Http404("No such file")
    url = attachment_url(storage="default", key=download.key, filename=download.filename)
    if url is not None:
        return redirect(url)
    with storages["default"].open(download.key) as file:  # an avatar: a few hundred kilobytes at most
        content = file.read()
    return HttpResponse(
        content,
        content_type=mimetypes.guess_type(download.filename)[0],
        headers={
            "Content-Disposition": content_disposition_header(True, download.filename),
            # A result never changes once made; the browser may keep it, no shared cache may.
            "Cache-Control": "private, max-age=86400",
        },
    )


def _file_job(request: HttpRequest, *, job_id: uuid.UUID, index: int, size: int, fmt: str) -> GenerationJob | HttpResponse:
    """The job whose file is asked for, if the caller has shown it is theirs; else the answer to send."""
    token = request.GET.get(TOKEN_PARAMETER)
    if token is not None:
        if not file_token_valid(job_id=job_id, index=index, size=size, fmt=fmt, token=token):
            return _unauthorized("This link has expired or is not valid: read the job again from the API for fresh links.")
        return _api_found(job_get(job_id=job_id))
    if request.headers.get("Authorization"):
        try:
            user_id = _api_key_user_id(request)
        except exceptions.APIException as exc:
            return _api_error(exc)
        if user_id is not None:
            return _api_found(job_get_for_user(job_id=job_id, user_id=user_id))
    if request.user.is_authenticated:
        return _own_job(request, job_id)
    if "text/html" in request.headers.get("Accept", ""):
        return redirect_to_login(request.get_full_path())
    return _unauthorized("Send your API key (Authorization: Bearer <key>), or use the link the API gave you while it is valid.")


def _api_key_user_id(request: HttpRequest) -> int | None:
    """The owner of the request's API key, through the API's own authentication (so a bad key here
    counts towards the address's limit as it does on the API); None for another scheme."""
    drf_request = Request(request, authenticators=[auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    return drf_request.user.pk if drf_request.auth is not None else None


def _api_error(exc: exceptions.APIException) -> JsonResponse:
    """The API's answer to a refused key (401, 403, 429), in its error shape and with its headers."""
    response = JsonResponse(error_body(code=getattr(exc, "default_code", "error"), message=str(exc.detail)), status=exc.status_code)
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        response["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(math.ceil(exc.wait))
    return response


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse(error_body(code="not_authenticated", message=message), status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


def _api_found(job: GenerationJob | None) -> GenerationJob | JsonResponse:
    """The job, or the API's 404 (someone else's job and a missing one look the same)."""
    return job if job is not None else JsonResponse(error_body(code="not_found", message="Not found."), status=404)


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _own_job(request, job_id)
    with contextlib.suppress(JobNotCancelableError):  # it finished first; the page shows how
        generation_job_cancel(job=job)
    return redirect("generation:job", job_id=job_id)


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """My avatars: every job of the user, newest first, with its result."""
    jobs = job_list_for_user(user_id=request.user.pk).prefetch_related("images")
    page = Paginator(jobs, 24).get_page(request.GET.get("page"))
    rows = [(job, job_thumbnail_url(job=job), job_made_with(job=job)) for job in page.object_list]
    return render(request, "generation/history.html", {"page": page, "rows": rows})
