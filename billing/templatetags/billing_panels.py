"""Billing's panels on pages other apps own (the account page, the welcome page): each page loads
this library and places the panels, so it shows billing's state without importing billing."""

from typing import Any

from django import template
from django.template.context import Context

from ..entitlements import Entitlements
from ..selectors import AccountBilling, account_billing, api_keys_for_user, plans_with_api_access
from ..views import new_key_pop

register = template.Library()


@register.simple_tag(takes_context=True)
def billing_of_user(context: Context) -> AccountBilling:
    """`{% billing_of_user as billing %}`: the signed-in user's plan, subscription and invoices."""
    return account_billing(user_id=context["request"].user.pk)


@register.simple_tag
def api_plans() -> list:
    """`{% api_plans as api_plans %}`: the plans that include the API, to say where to find it."""
    return plans_with_api_access()


def _panel(context: Context, **values: Any) -> dict[str, Any]:
    # The page's own context too ({% csrf_token %}, the user, messages), as an include would have.
    return {**context.flatten(), **values}


@register.inclusion_tag("billing/_account_plan.html", takes_context=True)
def plan_panel(context: Context, billing: AccountBilling, quota: Any) -> dict[str, Any]:
    """The plan, its state and where to change it; `quota` (generation's `quota_status`, or None)
    gives the rows of its quota windows."""
    return _panel(context, billing=billing, quota=quota)


@register.inclusion_tag("billing/_account_api_keys.html", takes_context=True)
def api_keys_panel(context: Context, billing: AccountBilling, quota: Any) -> dict[str, Any]:
    """The user's API keys: the one just created (shown this once), the list with revoke buttons, the
    form for another; or, on a plan without the API, which plans include it."""
    plan: Entitlements = billing.plan
    new_key, new_raw_key = new_key_pop(context["request"])
    return _panel(
        context,
        billing=billing,
        quota=quota,
        api_keys=api_keys_for_user(user_id=context["request"].user.pk) if plan.api_access else [],
        api_plans=[] if plan.api_access else plans_with_api_access(),
        new_key=new_key,
        new_raw_key=new_raw_key,
    )


@register.inclusion_tag("billing/_account_invoices.html", takes_context=True)
def invoices_panel(context: Context, billing: AccountBilling) -> dict[str, Any]:
    """The user's latest invoices (nothing when there are none)."""
    return _panel(context, billing=billing)
