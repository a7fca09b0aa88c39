"""Account pages: the account overview and the welcome after sign-up (sign-up, sign-in, sign-out,
e-mail, password and two-factor pages are allauth's, in the site's templates). The account page's
plan, API keys, invoices and quota are billing's and generation's panels, placed by its template
(`billing_panels`, `generation_panels`); the API key pages are billing's (billing/account_urls.py)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache

from billing.entitlements import entitlements

from .selectors import account_security


@never_cache
@login_required
def welcome(request: HttpRequest) -> HttpResponse:
    """Where sign-up lands: what to do first, and whether the confirmation mail went out."""
    # allauth's "signed in" and "confirmation mail sent" notes would repeat what this page says.
    for _message in messages.get_messages(request):
        pass
    context = {
        "plan": entitlements(user_id=request.user.pk),
        "security": account_security(user_id=request.user.pk, email=request.user.email),
    }
    return render(request, "accounts/welcome.html", context)


@never_cache
@login_required
def account(request: HttpRequest) -> HttpResponse:
    context = {"security": account_security(user_id=request.user.pk, email=request.user.email)}
    return render(request, "accounts/account.html", context)


class LegacyPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Reset links mailed before the move to allauth (/accounts/password-reset/<uid>/<token>/) keep
    working until they expire (PASSWORD_RESET_TIMEOUT, three days); new mails link to allauth's page."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("account_reset_password_from_key_done")
