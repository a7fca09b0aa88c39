"""Generation pages: the form (with what a request will cost and when it will be ready), one job's
live page, its JSON state, its downloads, cancel, and the "My avatars" history."""

import contextlib
import mimetypes
import secrets
import uuid

from django.contrib.auth.decorators import login_required
from django.core.files.storage import storages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from avatarsite.core.storage import attachment_url
from billing.entitlements import entitlements

from .forms import GenerateForm
from .quotas import QuotaExceededError, quota_status
from .selectors import (
    ai_available,
    job_attempts,
    job_get_for_user,
    job_list_for_user,
    job_state,
    job_thumbnail_url,
    lane_estimate,
    queue_ahead,
    similar_for_prompt,
    variant_download_get,
)
from .services import LOCAL_CHAIN, LOCAL_STYLES, GenerationError, JobNotCancelableError, generation_job_cancel, generation_job_create


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
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except QuotaExceededError as exc:
            quota_error = exc
        else:
            return redirect("generation:job", job_id=job.id)
    ai_ready = ai_available(chain=plan.provider_chain)
    chain = plan.provider_chain if ai_ready else LOCAL_CHAIN
    context = {
        "form": form,
        "plan": plan,
        "quota": quota_status(user_id=request.user.pk, plan=plan, now=timezone.now()),
        "quota_error": quota_error,
        # Before anything is submitted: where an AI request would stand, and what it costs.
        "estimate": lane_estimate(queue=plan.queue, chain=chain, ahead=queue_ahead(queue=plan.queue)),
        "instant_styles": list(LOCAL_STYLES),
        "ai_ready": ai_ready,
        "recent": [(job, job_thumbnail_url(job=job)) for job in job_list_for_user(user_id=request.user.pk).prefetch_related("images")[:6]],
    }
    return render(request, "generation/index.html", context, status=429 if quota_error else 200)


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
        "similar": similar_for_prompt(user_id=request.user.pk, prompt=job.prompt),
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


@login_required
@require_GET
def image_download(request: HttpRequest, job_id: uuid.UUID, index: int, size: int, fmt: str) -> HttpResponse:
    """One size and format of the user's result as a download with a readable name: a redirect to
    a signed URL that says so (R2), or the file itself (local files; read whole, not streamed from
    a synchronous iterator, which an ASGI server would have to drain in a thread)."""
    download = variant_download_get(job=_own_job(request, job_id), index=index, size=size, fmt=fmt)
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
        headers={"Content-Disposition": content_disposition_header(True, download.filename)},
    )


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
    rows = [(job, job_thumbnail_url(job=job)) for job in page.object_list]
    return render(request, "generation/history.html", {"page": page, "rows": rows})
