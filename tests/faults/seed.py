"""Seed the fault suite's database (run in its own process, on that database): API access for the free
and premium plans, the users that drive the cases, one API key each. Prints {username: key} as JSON.

Plans are data: an operator may give any plan the API, which lets the suite drive free jobs
(fal then Replicate, standard lane) and premium jobs (Replicate then fal, premium lane) through
the REST API as an enterprise client drives its own.
"""

import json
import os
import sys

# username -> plan slug
USERS = {"free-1": "free", "free-2": "free", "premium-1": "premium", "premium-2": "premium"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings.test")
    import django

    django.setup()
    from avatarsite.accounts.services import user_create
    from billing.models import Plan, Subscription
    from billing.services import api_key_create, plan_defaults_ensure

    plan_defaults_ensure()
    Plan.objects.filter(slug__in=set(USERS.values())).update(api_access=True, api_rate_per_minute=6000, api_keys_max=5)
    keys = {}
    for username, slug in USERS.items():
        user = user_create(username=username, email=f"{username}@example.com", password="a-long-password-1")
        if slug != "free":
            Subscription.objects.create(user=user, plan=Plan.objects.get(slug=slug))
        _, keys[username] = api_key_create(user=user, name="fault suite")
    json.dump(keys, sys.stdout)


if __name__ == "__main__":
    main()
