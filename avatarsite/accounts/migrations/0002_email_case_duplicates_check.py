"""Before allauth's migrations lower-case every User.email (account 0006): stop, naming them, if two
accounts hold the same address in different cases, which the unique column would then refuse halfway.

Sign-up always refused such pairs; only accounts made in the admin or by createsuperuser can form one.
"""

from collections import defaultdict

from django.db import migrations


def refuse_case_duplicates(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    owners = defaultdict(list)
    for username, email in User.objects.exclude(email="").values_list("username", "email").iterator():
        owners[email.lower()].append(f"{username} <{email}>")
    clashes = [names for names in owners.values() if len(names) > 1]
    if clashes:
        listed = "; ".join(", ".join(names) for names in clashes)
        raise RuntimeError(
            "These accounts share an e-mail address in different cases, and allauth keeps addresses in lower "
            f"case: {listed}. Give all but one of each another address, e.g. manage.py shell -c "
            "\"from avatarsite.accounts.models import User; User.objects.filter(username='NAME').update(email='NEW')\", "
            "then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    run_before = [("account", "0006_emailaddress_lower")]

    operations = [migrations.RunPython(refuse_case_duplicates, migrations.RunPython.noop)]
