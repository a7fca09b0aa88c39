"""Billing's plans for other apps' pages (the home page, the API page): a template reads them here, so
no other app's Python imports billing beyond billing.entitlements."""

from django import template
from django.conf import settings

from billing.models import Plan
from billing.selectors import PlanCard, plan_cards, plans_with_api_access

register = template.Library()


@register.simple_tag
def plan_offer() -> dict[str, list[PlanCard] | str]:
    """`{% plan_offer as offer %}`: the cards of includes/plans.html (offer.cards) and where to ask sales (offer.sales_email)."""
    return {"cards": plan_cards(), "sales_email": settings.BILLING_SALES_EMAIL}


@register.simple_tag
def api_plans() -> list[Plan]:
    """`{% api_plans as plans %}`: the plans that include the API, in pricing-page order."""
    return plans_with_api_access()
