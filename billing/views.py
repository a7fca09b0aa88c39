"""Billing pages (pricing, checkout and its return pages, the portal, the API keys of the account page)
and Stripe's webhook."""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from avatarsite.core.errors import message_from

from . import stripe_client
from .entitlements import entitlements
from .models import ApiKey, Plan
from .selectors import api_key_for_user, plan_cards
from .services import (
    ApiKeyError,
    ApiKeyNotFoundError,
    BillingError,
    api_key_create,
    api_key_revoke,
    checkout_confirm,
    checkout_start,
    portal_start,
    stripe_event_receive,
)

logger = logging.getLogger(__name__)


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    current = entitlements(user_id=request.user.pk).plan if request.user.is_authenticated else None
    return render(
        request,
        "billing/pricing.html",
        {
            "cards": plan_cards(),
            "current_plan": current,
            "payments_enabled": stripe_client.configured(),
            "sales_email": settings.BILLING_SALES_EMAIL,
            "section": "billing",
        },
    )


@login_required
@require_POST
def checkout(request: HttpRequest, slug: str) -> HttpResponse:
    plan = get_object_or_404(Plan, slug=slug)
    success_url = request.build_absolute_uri(reverse("billing:checkout_success")) + "?session_id={CHECKOUT_SESSION_ID}"
    cancel_url = request.build_absolute_uri(reverse("billing:checkout_canceled"))
    try:
        url = checkout_start(user=request.user, plan=plan, success_url=success_url, cancel_url=cancel_url)
    except BillingError as exc:
        message_from(request, exc)
        return redirect("billing:pricing")
    return redirect(url)


@login_required
@require_GET
def checkout_success(request: HttpRequest) -> HttpResponse:
    session_id = request.GET.get("session_id", "")
    subscription = checkout_confirm(user=request.user, session_id=session_id) if session_id else None
    plan = entitlements(user_id=request.user.pk)
    confirmed = subscription is not None and plan.plan == subscription.plan.slug
    return render(request, "billing/checkout_success.html", {"confirmed": confirmed, "plan": plan, "section": "billing"})


@login_required
@require_GET
def checkout_canceled(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/checkout_canceled.html", {"section": "billing"})


@login_required
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    try:
        url = portal_start(user=request.user, return_url=request.build_absolute_uri(reverse("accounts:account")))
    except BillingError as exc:
        message_from(request, exc)
        return redirect("accounts:account")
    return redirect(url)


def _bad_webhook(message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": "invalid_webhook", "message": message}}, status=400)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Verify, store by id, answer: applying the event is a task (a duplicate is acknowledged)."""
    signature = request.headers.get("Stripe-Signature", "")
    if not signature:
        return _bad_webhook("The Stripe-Signature header is missing.")
    try:
        event = stripe_client.event_construct(payload=request.body, signature=signature)
    except stripe_client.WebhookSignatureError as exc:
        logger.warning("Stripe webhook refused: %s", exc)
        return _bad_webhook(str(exc))
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return _bad_webhook("The event has no id or type.")
    stored, created = stripe_event_receive(event=event)
    return JsonResponse({"received": stored.id, "duplicate": not created})


# --- API keys (on the account page, /accounts/api-keys/, in the accounts namespace: billing/account_urls.py)

# The full key of a key just created, kept in the session from the creating POST to the next
# account page (which pops it): long enough to show it once after the redirect, so a reload
# neither repeats the POST nor shows the key again. It is never logged nor put in a URL or cookie.
NEW_KEY_SESSION = "accounts.new_api_key"
NEW_KEY_SHOWN_WITHIN = timedelta(minutes=10)


def new_key_pop(request: HttpRequest) -> tuple[ApiKey | None, str]:
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
