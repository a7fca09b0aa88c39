"""factory_boy factories of the billing app: plans, subscriptions, Stripe customers, invoices, API keys."""

import factory
from django.utils import timezone

from billing.models import ApiKey, Invoice, Plan, StripeCustomer, Subscription
from billing.services import api_key_create
from tests.accounts.factories import UserFactory


class PlanFactory(factory.django.DjangoModelFactory):
    """A plan by its slug: the seeded ones (free, premium, enterprise) are fetched, not made again."""

    class Meta:
        model = Plan
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.LazyAttribute(lambda plan: plan.slug.title())
    queue = "standard"
    provider_chain = factory.LazyFunction(lambda: ["fal:fal-ai/flux/schnell"])


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A user on a plan (premium unless `plan__slug` says otherwise), assigned by an operator unless
    `source` says otherwise."""

    class Meta:
        model = Subscription

    user = factory.SubFactory(UserFactory)
    plan = factory.SubFactory(PlanFactory, slug="premium")


class StripeCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StripeCustomer

    user = factory.SubFactory(UserFactory)
    customer_id = factory.Sequence(lambda n: f"cus_{n}")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    user = factory.SubFactory(UserFactory)
    stripe_invoice_id = factory.Sequence(lambda n: f"in_{n}")
    status = "paid"
    created = factory.LazyFunction(timezone.now)


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A key made by `api_key_create` (so the plan's limits apply); the full key, shown only once,
    is kept on the returned row as `raw`."""

    class Meta:
        model = ApiKey

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"key {n}")

    @classmethod
    def _create(cls, model_class: type[ApiKey], *, user: object, name: str, **kwargs: object) -> ApiKey:
        key, raw = api_key_create(user=user, name=name)
        key.raw = raw
        return key
