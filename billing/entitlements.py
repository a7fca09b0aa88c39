"""The one place that answers "what may this user do now"; everything else asks here."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .models import Plan, Subscription


@dataclass(frozen=True)
class Entitlements:
    plan: str
    plan_name: str
    queue: str
    priority: int
    provider_chain: tuple[str, ...]
    max_size: int
    daily_quota: int | None
    hourly_quota: int | None
    max_images_per_request: int
    api_access: bool
    api_rate_per_minute: int
    api_keys_max: int
    # How each job orders the chain (billing.models.Plan.Routing's values).
    routing: str = "ordered"
    # A paying plan (a price, or sold by contract): the spend budget's hard stop treats it apart.
    paid: bool = False

    @classmethod
    def of(cls, plan: Plan) -> "Entitlements":
        return cls(
            plan=plan.slug,
            plan_name=plan.name,
            queue=plan.queue,
            priority=plan.priority,
            provider_chain=tuple(plan.provider_chain),
            max_size=plan.max_size,
            daily_quota=plan.daily_quota,
            hourly_quota=plan.hourly_quota,
            max_images_per_request=plan.max_images_per_request,
            api_access=plan.api_access,
            api_rate_per_minute=plan.api_rate_per_minute,
            api_keys_max=plan.api_keys_max,
            routing=plan.routing,
            paid=plan_is_paid(plan),
        )


def plan_is_paid(plan: Plan) -> bool:
    """Whether users of the plan pay for it: a monthly price, or a contract."""
    return plan.price_usd_per_month > 0 or plan.contracted


def plan_paid(*, slug: str) -> bool:
    """Whether the plan named `slug` (a job's) is a paying one; an unknown slug counts as free."""
    plan = Plan.objects.filter(slug=slug).only("price_usd_per_month", "contracted").first()
    return plan is not None and plan_is_paid(plan)


def subscription_entitled(subscription: Subscription, now: datetime | None = None) -> bool:
    """Whether the row still grants its plan: active within its period, or past due within grace."""
    now = now or timezone.now()
    if subscription.status == Subscription.Status.ACTIVE:
        return subscription.current_period_end is None or subscription.current_period_end > now
    if subscription.status == Subscription.Status.PAST_DUE:
        return subscription.grace_until is not None and subscription.grace_until > now
    return False


def entitlements(*, user_id: int, now: datetime | None = None) -> Entitlements:
    """The user's current plan's entitlements: read fresh each time, so a change applies at once."""
    now = now or timezone.now()
    subscription = Subscription.objects.select_related("plan").filter(user_id=user_id).first()
    if subscription is not None and subscription_entitled(subscription, now):
        return Entitlements.of(subscription.plan)
    return Entitlements.of(Plan.objects.get(is_default=True))
