"""Billing pages (pricing, checkout and its return pages, the portal) and Stripe's webhook."""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from avatarsite.core.errors import message_from

from . import stripe_client
from .entitlements import entitlements
from .models import Plan
from .selectors import plan_cards
from .services import BillingError, checkout_confirm, checkout_start, portal_start, stripe_event_receive

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
