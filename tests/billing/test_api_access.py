"""Every plan includes the API at its own limits (the free plan's small ones, said where plans are
shown); answers refused for the key (401) still carry the rate-limit headers."""

import time

import pytest
from django.db import connection
from django.urls import reverse

from billing.default_plans import FREE_API, PREMIUM_API
from billing.models import ApiKey
from billing.services import api_key_create, api_key_revoke
from tests.accounts.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.fast]

LIST = "/api/v1/avatars"
GENERATIONS = "/api/v1/generations"


@pytest.fixture
def free_user():
    return UserFactory(username="newcomer")


def test_a_free_account_creates_a_key_and_uses_it_at_the_free_plans_rate(client, free_user, settings):
    settings.PUBLIC_API_RATE_PER_MINUTE = 120  # a key's rate is the plan's, also below the per-address one
    _, raw_key = api_key_create(user=free_user, name="first try")

    usage = client.get("/api/v1/usage", HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    assert usage.status_code == 200
    assert usage.json()["plan"]["api_rate_per_minute"] == 60
    assert usage["X-RateLimit-Limit"] == "60"
    assert [w["limit"] for w in usage.json()["quotas"]] == [5]  # the site's daily quota, shared
    api_key_create(user=free_user, name="second")
    with pytest.raises(Exception, match="2 active API keys"):
        api_key_create(user=free_user, name="third")


def test_the_plans_api_limits_are_said_on_the_pricing_and_api_pages(client):
    pricing = client.get(reverse("billing:pricing")).content.decode()
    api_page = client.get(reverse("api")).content.decode()

    assert "REST API: 2 keys, 60 requests a minute, signed webhooks" in pricing
    assert "REST API: 5 keys, 120 requests a minute, signed webhooks" in pricing
    assert "REST API: 10 keys, 600 requests a minute, signed webhooks" in pricing
    assert "<strong>Free</strong>: 2 keys, 60 requests a minute, 5 generations a day" in api_page
    assert "<strong>Enterprise</strong>: 10 keys, 600 requests a minute" in api_page


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_untouched_free_and_premium_plans_the_api_and_leaves_an_edited_one(django_user_model):
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("billing", "0006_subscription_stripe_created")], [("billing", "0007_plans_api_access")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("billing", "Plan").objects
    no_api = {"api_access": False, "api_rate_per_minute": 0, "api_keys_max": 0}
    old.filter(slug="free").update(**no_api)  # as 0002 seeded it before this change
    old.filter(slug="premium").update(api_access=False, api_rate_per_minute=7, api_keys_max=0)  # an operator's edit
    old.filter(slug="enterprise").update(api_access=True, api_rate_per_minute=600, api_keys_max=10)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    fields = ("api_access", "api_rate_per_minute", "api_keys_max")
    new = executor.loader.project_state(after).apps.get_model("billing", "Plan").objects
    rows = {plan["slug"]: {f: plan[f] for f in fields} for plan in new.values("slug", *fields)}
    # The later migrations back, for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert rows["free"] == FREE_API
    assert rows["premium"] == {**no_api, "api_rate_per_minute": 7}  # left as the operator set it
    assert rows["enterprise"] == {"api_access": True, "api_rate_per_minute": 600, "api_keys_max": 10}
    assert PREMIUM_API["api_access"]  # what an untouched premium row gets (its default data)


@pytest.mark.parametrize("case", ["missing", "malformed", "unknown", "revoked"])
def test_a_401_carries_the_rate_limit_headers_of_the_address(client, free_user, settings, case):
    settings.PUBLIC_API_RATE_PER_MINUTE = 50
    key, raw_key = api_key_create(user=free_user, name="old")
    api_key_revoke(user=free_user, key_id=key.pk)
    authorization = {
        "missing": {},
        "malformed": {"HTTP_AUTHORIZATION": "Bearer not-a-key"},
        "unknown": {"HTTP_AUTHORIZATION": "Bearer avk_zzzzzzzz_" + "A" * 40},
        "revoked": {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"},
    }[case]
    ip = {"REMOTE_ADDR": "203.0.113.40"}

    first = client.get(GENERATIONS, **ip, **authorization)
    second = client.post(GENERATIONS, data="{}", content_type="application/json", **ip, **authorization)
    listing = client.get(LIST, **ip, **authorization)

    assert (first.status_code, second.status_code) == (401, 401)
    assert first["X-RateLimit-Limit"] == second["X-RateLimit-Limit"] == "50"
    assert (first["X-RateLimit-Remaining"], second["X-RateLimit-Remaining"]) == ("49", "48")
    assert int(time.time()) < int(first["X-RateLimit-Reset"]) <= int(time.time()) + 60
    assert first["WWW-Authenticate"] == "Bearer"
    if case == "missing":
        assert (listing.status_code, listing["X-RateLimit-Remaining"]) == (200, "47")  # the public list is open without a key
    else:
        assert (listing.status_code, listing["X-RateLimit-Remaining"]) == (401, "47")
    assert ApiKey.objects.count() == 1


def test_an_address_blocked_for_bad_keys_is_told_that_limit_in_the_headers(client, settings):
    settings.API_KEY_FAILURES_PER_MINUTE = 2
    ip = {"REMOTE_ADDR": "203.0.113.41"}
    for n in range(2):
        client.get(LIST, **ip, HTTP_AUTHORIZATION=f"Bearer avk_guess{n:03d}_{'x' * 40}")

    blocked = client.get(LIST, **ip, HTTP_AUTHORIZATION="Bearer avk_guess999_" + "x" * 40)

    assert blocked.status_code == 429
    assert (blocked["X-RateLimit-Limit"], blocked["X-RateLimit-Remaining"]) == ("2", "0")
    assert int(blocked["X-RateLimit-Reset"]) == int(time.time()) // 60 * 60 + 60
    assert int(blocked["Retry-After"]) >= 1
