"""Generation pages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .selectors import job_list_for_user


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "generation/index.html", {"jobs": job_list_for_user(user_id=request.user.pk)[:20]})
