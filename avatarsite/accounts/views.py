"""Account pages: the account overview and its API keys, and the welcome after sign-up (sign-up,
sign-in, sign-out, e-mail, password and two-factor pages are allauth's, in the site's templates)."""

from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from avatarsite.core.errors import message_from
from billing.entitlements import entitlements
from billing.models import ApiKey
from billing.selectors import account_billing, api_key_for_user, api_keys_for_user, plans_with_api_access
from billing.services import ApiKeyError, ApiKeyNotFoundError, api_key_create, api_key_revoke
from generation.quotas import quota_status

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
        "api_plans": plans_with_api_access(),
        "security": account_security(user_id=request.user.pk, email=request.user.email),
    }
    return render(request, "accounts/welcome.html", context)


# The full key of a key just created, kept in the session from the creating POST to the next
# account page (which pops it): long enough to show it once after the redirect, so a reload
# neither repeats the POST nor shows the key again. It is never logged nor put in a URL or cookie.
NEW_KEY_SESSION = "accounts.new_api_key"
NEW_KEY_SHOWN_WITHIN = timedelta(minutes=10)


@never_cache
@login_required
def account(request: HttpRequest) -> HttpResponse:
    new_key, new_raw_key = _new_key_pop(request)
    billing = account_billing(user_id=request.user.pk)
    quota = quota_status(user_id=request.user.pk, plan=billing.plan, now=timezone.now())
    api = billing.plan.api_access
    context = {
        "billing": billing,
        "quota": quota,
        "api_keys": api_keys_for_user(user_id=request.user.pk) if api else [],
        "api_plans": [] if api else plans_with_api_access(),
        "new_key": new_key,
        "new_raw_key": new_raw_key,
        "security": account_security(user_id=request.user.pk, email=request.user.email),
    }
    return render(request, "accounts/account.html", context)


def _new_key_pop(request: HttpRequest) -> tuple[ApiKey | None, str]:
    """The key created just before this page and its full text, once (taken out of the session)."""
    held = request.session.pop(NEW_KEY_SESSION, None)
    if not isinstance(held, dict):
        return None, ""
    created = datetime.fromtimestamp(held.get("at", 0), tz=UTC)
    key = api_key_for_user(user_id=request.user.pk, key_id=held.get("id"))
    if key is None or timezone.now() - created > NEW_KEY_SHOWN_WITHIN:  # revoked meanwhile, or left too long
        return None, ""
    return key, held.get("raw", "")


@login_required
@require_POST
def create_api_key(request: HttpRequest) -> HttpResponse:
    """Post, then redirect: the account page shows the new key once; a reload creates nothing."""
    try:
        key, raw_key = api_key_create(user=request.user, name=request.POST.get("name", ""))
    except ApiKeyError as exc:
        message_from(request, exc)
        return redirect("accounts:account")
    request.session[NEW_KEY_SESSION] = {"id": key.pk, "raw": raw_key, "at": timezone.now().timestamp()}
    return redirect(reverse("accounts:account") + "#new-key")


@login_required
@require_POST
def revoke_api_key(request: HttpRequest, key_id: int) -> HttpResponse:
    try:
        key = api_key_revoke(user=request.user, key_id=key_id)
    except ApiKeyNotFoundError as exc:  # someone else's key is not found either
        raise Http404(str(exc)) from exc
    messages.success(request, f"The key {key.name} ({key.prefix}…) is revoked: requests with it are refused from now on.")
    return redirect("accounts:account")


class LegacyPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Reset links mailed before the move to allauth (/accounts/password-reset/<uid>/<token>/) keep
    working until they expire (PASSWORD_RESET_TIMEOUT, three days); new mails link to allauth's page."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("account_reset_password_from_key_done")
