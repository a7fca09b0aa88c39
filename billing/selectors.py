"""Reads of the billing app: the plans as the pricing page shows them, a user's billing state and API keys."""

from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings

from . import stripe_client
from .entitlements import Entitlements, entitlements, subscription_entitled
from .models import ApiKey, Invoice, Plan, StripeCustomer, Subscription

_LANES = {"standard": "Standard queue", "premium": "Priority queue", "enterprise": "Dedicated lane"}


@dataclass(frozen=True)
class PlanCard:
    plan: Plan
    features: list[str]
    for_sale: bool  # sold by Stripe Checkout on this site
    featured: bool = False  # the plan the page puts forward: the first one on sale here, never one that is not

    @property
    def slug(self) -> str:
        return self.plan.slug


def _model_label(chain: list[str]) -> str:
    """ "fal:fal-ai/flux/schnell" -> "FLUX schnell"."""
    if not chain:
        return "instant styles only"
    model = chain[0].split(":", 1)[-1].rsplit("/", 1)[-1]
    return model.replace("flux-", "FLUX ") if model.startswith("flux-") else f"FLUX {model}" if "flux" in chain[0] else model


def plan_features(plan: Plan) -> list[str]:
    """What a plan gives, in words, from its data (so the page never disagrees with the limits)."""
    model = _model_label(plan.provider_chain)
    if plan.daily_quota is not None:
        quota = f"{plan.daily_quota} custom AI avatars a day on {model}"
    elif plan.hourly_quota is not None:
        quota = f"{plan.hourly_quota} custom AI avatars an hour on {model}"
    else:
        quota = f"Custom AI avatars on {model}, no daily cap"
    # What its chain really delivers, and how (natively or upscaled): the plan's number alone could promise more.
    sizes = plan.sizes()
    size_words = sizes.summary if sizes is not None else f"Up to {plan.max_size} px"
    features = [
        "The whole premade library, every size",
        quota,
        f"{_LANES.get(plan.queue, plan.queue.title() + ' queue')}, live progress",
        f"{size_words}, {plan.max_images_per_request} image{'s' if plan.max_images_per_request > 1 else ''} per request",
    ]
    if plan.api_access:
        features.append(f"REST API: {plan.api_keys_max} keys, {plan.api_rate_per_minute} requests a minute, signed webhooks")
    return features


def plan_price_id(plan: Plan) -> str:
    """The Stripe Price that sells `plan` (empty: not for sale by checkout)."""
    if plan.contracted or plan.is_default:
        return ""
    return plan.stripe_price_id or (settings.STRIPE_PREMIUM_PRICE_ID if plan.slug == "premium" else "")


def plan_cards() -> list[PlanCard]:
    sale_open = stripe_client.configured()
    cards = [PlanCard(plan, plan_features(plan), sale_open and bool(plan_price_id(plan))) for plan in Plan.objects.all()]
    first_on_sale = next((card for card in cards if card.for_sale), None)
    return [replace(card, featured=True) if card is first_on_sale else card for card in cards]


@dataclass(frozen=True)
class AccountBilling:
    plan: Entitlements
    subscription: Subscription | None
    entitled: bool  # the subscription row grants its plan now
    renews_at: datetime | None
    ends_at: datetime | None
    invoices: list[Invoice]
    can_manage: bool  # has a Stripe customer: the portal can open
    sales_email: str
    payments_enabled: bool  # Stripe is set up here: plans can be bought, and changed or canceled in the portal
    by_contract: bool  # an operator assigned the plan: changed through sales, not here


def account_billing(*, user_id: int) -> AccountBilling:
    subscription = Subscription.objects.select_related("plan").filter(user_id=user_id).first()
    entitled = subscription is not None and subscription_entitled(subscription)
    period_end = subscription.current_period_end if entitled else None
    ending = entitled and (subscription.cancel_at_period_end or subscription.source == Subscription.Source.OPERATOR)
    payments_enabled = stripe_client.configured()
    return AccountBilling(
        plan=entitlements(user_id=user_id),
        subscription=subscription,
        entitled=entitled,
        renews_at=None if ending else period_end,
        ends_at=period_end if ending else None,
        invoices=list(Invoice.objects.filter(user_id=user_id)[:12]),
        can_manage=payments_enabled and StripeCustomer.objects.filter(user_id=user_id).exists(),
        sales_email=settings.BILLING_SALES_EMAIL,
        payments_enabled=payments_enabled,
        by_contract=entitled and subscription.source == Subscription.Source.OPERATOR,
    )


def api_keys_for_user(*, user_id: int) -> list[ApiKey]:
    """The user's active (not revoked) API keys, newest first."""
    return list(ApiKey.objects.filter(user_id=user_id, revoked_at__isnull=True))


def api_key_for_user(*, user_id: int, key_id: object) -> ApiKey | None:
    """One of the user's active keys by id; None for a revoked one, another's or a bad id."""
    if not isinstance(key_id, int):
        return None
    return ApiKey.objects.filter(pk=key_id, user_id=user_id, revoked_at__isnull=True).first()


def plans_with_api_access() -> list[Plan]:
    """The plans that include the API, in pricing-page order (to tell others where to find it)."""
    return list(Plan.objects.filter(api_access=True))
