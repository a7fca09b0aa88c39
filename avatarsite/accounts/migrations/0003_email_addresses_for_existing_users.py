"""allauth's e-mail address rows for the users from before it, verified: their addresses were trusted
then (password resets went to them), and mandatory verification must not lock them out now."""

from django.db import migrations


def add_email_addresses(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    having_one = set(EmailAddress.objects.values_list("user_id", flat=True))
    rows = [
        # Lower case as allauth stores them (its account 0006 has lower-cased User.email already).
        EmailAddress(user_id=user_id, email=email.lower(), primary=True, verified=True)
        for user_id, email in User.objects.exclude(email="").values_list("pk", "email").iterator()
        if user_id not in having_one
    ]
    EmailAddress.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_email_case_duplicates_check"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(add_email_addresses, migrations.RunPython.noop)]
