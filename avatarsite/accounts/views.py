"""Account pages: sign up and the account overview (sign-in, sign-out and resets are Django's)."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from billing.selectors import account_billing
from generation.quotas import quota_status

from .forms import SignUpForm
from .services import user_create


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:account")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_create(
            username=form.cleaned_data["username"], email=form.cleaned_data["email"], password=form.cleaned_data["password1"]
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    billing = account_billing(user_id=request.user.pk)
    quota = quota_status(user_id=request.user.pk, plan=billing.plan, now=timezone.now())
    return render(request, "accounts/account.html", {"billing": billing, "quota": quota})
