"""Generation's panels on pages other apps own: the account page loads this library for the
user's quota, so it shows it without importing generation."""

from django import template
from django.template.context import Context
from django.utils import timezone

from billing.entitlements import Entitlements

from ..quotas import QuotaStatus, quota_status

register = template.Library()


@register.simple_tag(takes_context=True)
def quota_of_user(context: Context, plan: Entitlements) -> QuotaStatus:
    """`{% quota_of_user billing.plan as quota %}`: the signed-in user's quota windows on `plan` now."""
    return quota_status(user_id=context["request"].user.pk, plan=plan, now=timezone.now())
