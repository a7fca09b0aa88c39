"""Subscription.stripe_created: when Stripe created the subscription a row holds, so that of a
customer's subscriptions the newest is kept whatever order their events arrive in."""

from datetime import UTC, datetime

from django.db import migrations, models


def remember_when_stripe_created_each_subscription(apps, schema_editor):
    """Taken from the stored events about each subscription (their copy carries `created`); a row
    with no such event stays unknown (ranked oldest) until its own next event or refresh fills it."""
    Subscription = apps.get_model("billing", "Subscription")
    StripeEvent = apps.get_model("billing", "StripeEvent")
    for row in Subscription.objects.filter(stripe_subscription_id__isnull=False, stripe_created__isnull=True).only(
        "pk", "stripe_subscription_id"
    ):
        payloads = StripeEvent.objects.filter(
            type__startswith="customer.subscription.", payload__data__object__id=row.stripe_subscription_id
        )
        payload = payloads.values_list("payload", flat=True).first()
        created = (((payload or {}).get("data") or {}).get("object") or {}).get("created")
        if isinstance(created, int | float):
            Subscription.objects.filter(pk=row.pk).update(stripe_created=datetime.fromtimestamp(created, UTC))


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_webhooks"),
    ]

    operations = [
        migrations.AddField(
            model_name="subscription",
            name="stripe_created",
            field=models.DateTimeField(
                blank=True, help_text="When Stripe created the subscription held here (a newer one of the customer replaces it).", null=True
            ),
        ),
        migrations.RunPython(remember_when_stripe_created_each_subscription, migrations.RunPython.noop),
    ]
