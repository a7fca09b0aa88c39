"""Generation pages: the form and history, one job's live page, its JSON state, and cancel."""

import contextlib
import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.entitlements import entitlements

from .forms import GenerateForm
from .quotas import QuotaExceededError, quota_status
from .selectors import job_get_for_user, job_list_for_user, job_state
from .services import GenerationError, JobNotCancelableError, generation_job_cancel, generation_job_create


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    form = GenerateForm(request.POST or None)
    quota_error = None
    if request.method == "POST" and form.is_valid():
        try:
            job = generation_job_create(
                user_id=request.user.pk,
                prompt=form.cleaned_data["prompt"],
                style=form.cleaned_data["style"],
                seed=form.cleaned_data["seed"],
            )
        except GenerationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except QuotaExceededError as exc:
            quota_error = exc
        else:
            return redirect("generation:job", job_id=job.id)
    plan = entitlements(user_id=request.user.pk)
    context = {
        "form": form,
        "plan": plan,
        "quota": quota_status(user_id=request.user.pk, plan=plan, now=timezone.now()),
        "quota_error": quota_error,
        "jobs": job_list_for_user(user_id=request.user.pk)[:20],
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
    return render(request, "generation/job.html", {"job": job, "state": job_state(job=job)})


@login_required
@require_GET
def job_status(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    """The websocket's state for clients that poll instead."""
    return JsonResponse(job_state(job=_own_job(request, job_id)))


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _own_job(request, job_id)
    with contextlib.suppress(JobNotCancelableError):  # it finished first; the page shows how
        generation_job_cancel(job=job)
    return redirect("generation:job", job_id=job_id)
