"""The whole paid life of a user against the fake Stripe, with real webhooks into the running site
and a real worker applying them: upgrade, premium routing, cancel at period end, the end.
And an operator's enterprise assignment in the admin, effective at once."""

import pytest
from django.urls import reverse

from billing.entitlements import entitlements
from billing.models import Plan, StripeEvent, Subscription
from generation.services import generation_job_create
from tests.billing.support import WEBHOOK_PATH, stripe_env
from tests.support.processes import celery_worker_args, project_env, running, subprocess_database_url
from tests.support.workers import log_tail, wait_for

PROMPT = "a portrait of a smiling astronaut"


def _plan_is(user, slug: str) -> bool:
    return entitlements(user_id=user.pk).plan == slug


@pytest.mark.django_db(transaction=True)
def test_a_free_user_upgrades_gets_premium_routing_cancels_and_returns_to_free(
    client, django_user_model, live_server, stripe_settings, fake_stripe, broker, artifacts_dir
):
    user = django_user_model.objects.create_user("upgrader", "upgrader@example.com", "pw-123456789")
    client.force_login(user)
    fake_stripe.webhook_url = live_server.url + WEBHOOK_PATH
    free_job = generation_job_create(user_id=user.pk, prompt=PROMPT)
    log = artifacts_dir / "billing-flow-worker.log"
    env = project_env(DATABASE_URL=subprocess_database_url(), **stripe_env(fake_stripe))

    with running(celery_worker_args("standard"), env=env, log=log):
        # Upgrade: checkout, pay on Stripe's page; Stripe sends the signed events to the site.
        session_id = client.post("/billing/checkout/premium/").url.rsplit("/", 1)[-1]
        fake_stripe.pay(session_id)
        deliveries = [(d["type"], d["status"]) for d in fake_stripe.deliveries]
        wait_for(lambda: _plan_is(user, "premium"), timeout=30, what=f"premium\n{log_tail(log)}")
        wait_for(lambda: not StripeEvent.objects.exclude(status="processed").exists(), timeout=30, what="every event applied")

        premium_job = generation_job_create(user_id=user.pk, prompt=PROMPT + " again")
        account = client.get(reverse("accounts:account")).content.decode()

        # Cancel in the portal: premium holds until the period ends.
        portal_id = client.post(reverse("billing:portal")).url.rsplit("/", 1)[-1]
        fake_stripe.portal_cancel(portal_id)
        wait_for(lambda: Subscription.objects.filter(user=user, cancel_at_period_end=True).exists(), timeout=30, what="the cancel")
        canceled_account = client.get(reverse("accounts:account")).content.decode()
        still_premium = _plan_is(user, "premium")

        # The period ends: Stripe deletes the subscription and says so.
        subscription_id = Subscription.objects.get(user=user).stripe_subscription_id
        fake_stripe.deliver(fake_stripe.event("customer.subscription.deleted", fake_stripe.subscription_delete(subscription_id)))
        wait_for(lambda: _plan_is(user, "free"), timeout=30, what="the downgrade")

    back_to_free_job = generation_job_create(user_id=user.pk, prompt=PROMPT + " once more")
    premium = Plan.objects.get(slug="premium")
    assert deliveries == [("checkout.session.completed", 200), ("customer.subscription.created", 200), ("invoice.paid", 200)]
    assert (free_job.plan, free_job.queue, free_job.priority) == ("free", "standard", 5)
    assert (premium_job.plan, premium_job.queue, premium_job.priority) == ("premium", "premium", premium.priority)
    assert entitlements(user_id=user.pk).provider_chain == tuple(Plan.objects.get(slug="free").provider_chain)
    assert broker.llen(f"premium:{premium.priority}") == 1  # the premium job waits in the premium lane
    assert "data-plan-name>Premium<" in account
    assert "data-renews" in account
    assert "10.00 USD" in account  # the first invoice, with Stripe's link
    assert still_premium
    assert "data-ends" in canceled_account
    assert "Canceled — ends at the end of the period" in canceled_account
    assert (back_to_free_job.plan, back_to_free_job.queue) == ("free", "standard")
    assert StripeEvent.objects.filter(status="processed").count() == 5


@pytest.mark.django_db
def test_an_enterprise_plan_assigned_in_the_admin_applies_at_once(client, django_user_model):
    customer = django_user_model.objects.create_user("bigco", "it@bigco.example", "pw-123456789")
    operator = django_user_model.objects.create_superuser("operator", "ops@example.com", "pw-123456789")
    client.force_login(operator)
    enterprise = Plan.objects.get(slug="enterprise")

    response = client.post(
        reverse("admin:billing_subscription_add"),
        {
            "user": customer.pk,
            "plan": enterprise.pk,
            "source": "operator",
            "status": "active",
            "current_period_end_0": "",
            "current_period_end_1": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert _plan_is(customer, "enterprise")
    job = generation_job_create(user_id=customer.pk, prompt=PROMPT)
    assert (job.plan, job.queue, job.priority) == ("enterprise", "enterprise", 0)
    assert entitlements(user_id=customer.pk).api_access is True
