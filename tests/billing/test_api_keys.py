"""API keys: created once and stored as a hash, limited by the plan, used as Bearer keys on the API
(401 for bad or revoked keys, 403 once the plan has no API), revoked by their owner or an operator."""

import hashlib
import logging
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from billing.models import ApiKey, Plan, Subscription
from billing.services import (
    ApiAccessUnavailableError,
    ApiKeyLimitError,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
)
from tests.accounts.factories import UserFactory
from tests.billing.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/avatars"
KEY_RE = re.compile(r"avk_[a-z0-9]{8}_[A-Za-z0-9_-]{40}")
PASSWORD = "pw-123456789"


@pytest.fixture
def enterprise_user():
    return SubscriptionFactory(user__username="acme", user__email="dev@acme.example", user__password=PASSWORD, plan__slug="enterprise").user


@pytest.fixture
def free_user():
    return UserFactory(username="reader", password=PASSWORD)


@pytest.fixture
def no_api_user(free_user):
    """A user on a plan without the API: the free plan, had an operator taken it away."""
    Plan.objects.filter(slug="free").update(api_access=False)
    return free_user


def bearer(raw_key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


def _row_text(key_id: int) -> str:
    """The key's row as PostgreSQL holds it (what a dump would show)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM billing_apikey k WHERE id = %s", [key_id])
        return cursor.fetchone()[0]


def test_a_created_key_is_returned_once_and_stored_only_as_its_prefix_and_hash(enterprise_user):
    key, raw_key = api_key_create(user=enterprise_user, name="  production  ")

    assert KEY_RE.fullmatch(raw_key)
    assert raw_key.startswith(f"{key.prefix}_")
    assert key.name == "production"
    row = _row_text(key.pk)
    secret = raw_key.removeprefix(f"{key.prefix}_")
    assert raw_key not in row
    assert secret not in row
    assert hashlib.sha256(raw_key.encode()).hexdigest() in row
    assert key.prefix in row


def test_a_plan_allows_only_its_number_of_active_keys(enterprise_user):
    Plan.objects.filter(slug="enterprise").update(api_keys_max=2)
    first, _ = api_key_create(user=enterprise_user, name="one")
    api_key_create(user=enterprise_user, name="two")

    with pytest.raises(ApiKeyLimitError, match="2 active API keys"):
        api_key_create(user=enterprise_user, name="three")

    api_key_revoke(user=enterprise_user, key_id=first.pk)
    api_key_create(user=enterprise_user, name="three")
    assert ApiKey.objects.filter(user=enterprise_user, revoked_at__isnull=True).count() == 2


def test_a_user_whose_plan_has_no_api_is_told_which_plans_include_it(no_api_user):
    with pytest.raises(ApiAccessUnavailableError, match="Free plan does not include the API: it comes with the Premium or Enterprise plan"):
        api_key_create(user=no_api_user, name="mine")

    assert not ApiKey.objects.exists()


def test_a_key_reads_the_public_api_and_its_last_use_is_recorded(client, enterprise_user):
    key, raw_key = api_key_create(user=enterprise_user, name="ci")

    response = client.get(LIST, **bearer(raw_key))

    assert response.status_code == 200
    assert response.json()["results"] == []
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(seconds=10)


def test_the_last_use_is_written_at_most_once_a_minute(enterprise_user, django_assert_num_queries):
    key, raw_key = api_key_create(user=enterprise_user, name="busy")
    first_use = timezone.now()
    api_key_authenticate(raw_key=raw_key, now=first_use)

    with django_assert_num_queries(2):  # the key with its owner, the plan: no write
        credential = api_key_authenticate(raw_key=raw_key, now=first_use + timedelta(seconds=50))
    api_key_authenticate(raw_key=raw_key, now=first_use + timedelta(seconds=70))

    assert credential is not None
    assert credential.key.pk == key.pk
    key.refresh_from_db()
    assert key.last_used_at == first_use + timedelta(seconds=70)


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer avk_zzzzzzzz_" + "A" * 40, "Unknown or revoked API key."),
        ("Bearer not-a-key", "This is not an avatarsite API key"),
        ("Bearer avk_short_secret", "This is not an avatarsite API key"),
        ("Bearer", "Send exactly one key"),
        ("Bearer two keys", "Send exactly one key"),
    ],
)
def test_a_bad_key_gets_401_with_the_error_body_and_the_bearer_challenge(client, authorization, message):
    response = client.get(LIST, HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["message"].startswith(message)
    assert error["details"] == {}


def test_a_request_without_a_key_or_with_another_scheme_stays_anonymous(client):
    assert client.get(LIST).status_code == 200
    assert client.get(LIST, HTTP_AUTHORIZATION="Basic c3RhZ2luZzpzZWNyZXQ=").status_code == 200


def test_a_revoked_key_gets_401(client, enterprise_user):
    key, raw_key = api_key_create(user=enterprise_user, name="old")
    assert client.get(LIST, **bearer(raw_key)).status_code == 200

    api_key_revoke(user=enterprise_user, key_id=key.pk)
    api_key_revoke(user=enterprise_user, key_id=key.pk)  # twice: no error, no change
    response = client.get(LIST, **bearer(raw_key))

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Unknown or revoked API key."


def test_a_key_outlives_the_end_of_a_contract_at_the_free_plans_rate_and_gets_403_once_no_plan_has_the_api(client, enterprise_user):
    _, raw_key = api_key_create(user=enterprise_user, name="contract")
    Subscription.objects.filter(user=enterprise_user).update(status=Subscription.Status.CANCELED)

    on_free = client.get(LIST, **bearer(raw_key))
    Plan.objects.filter(slug="free").update(api_access=False)
    response = client.get(LIST, **bearer(raw_key))

    assert (on_free.status_code, on_free["X-RateLimit-Limit"]) == (200, "60")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "api_access_unavailable"
    assert "Free plan does not include the API" in error["message"]


def test_a_key_raises_the_throttle_to_its_plans_rate_counted_per_account(client, enterprise_user, settings):
    settings.PUBLIC_API_RATE_PER_MINUTE = 2
    Plan.objects.filter(slug="enterprise").update(api_rate_per_minute=4)
    _, first_key = api_key_create(user=enterprise_user, name="one")
    _, second_key = api_key_create(user=enterprise_user, name="two")
    ip = {"REMOTE_ADDR": "203.0.113.20"}

    with_keys = [client.get(LIST, **ip, **bearer(k)).status_code for k in (first_key, second_key, first_key, second_key, first_key)]
    anonymous = [client.get(LIST, **ip).status_code for _ in range(3)]

    assert with_keys == [200, 200, 200, 200, 429]  # two keys share their account's four
    headers = client.get("/api/v1/generations", **ip, **bearer(first_key))
    assert (headers.status_code, headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == (429, "4", "0")
    assert int(headers["Retry-After"]) >= 1
    assert anonymous == [200, 200, 429]  # the IP's own public allowance, untouched by the key requests


def _sessions_hold(raw_key: str) -> bool:
    return any(raw_key in str(s.get_decoded()) or raw_key in s.session_data for s in Session.objects.all())


def test_creating_a_key_redirects_to_the_account_page_which_shows_it_exactly_once(client, free_user, caplog):
    """Post, redirect, get: the key is held in the session from the POST to the next account page
    only, shown there once (with a copy button), and a reload neither shows it nor makes another."""
    client.force_login(free_user)
    caplog.set_level(logging.DEBUG)

    created = client.post(reverse("accounts:api_key_create"), {"name": "production"})

    key = ApiKey.objects.get(user=free_user)
    assert created.status_code == 302
    assert created["Location"] == reverse("accounts:account") + "#new-key"
    assert not KEY_RE.search(created.content.decode() + created["Location"])
    shown = client.get(created["Location"])
    page = shown.content.decode()
    raw_keys = KEY_RE.findall(page)
    assert len(raw_keys) == 1
    raw_key = raw_keys[0]
    assert raw_key.startswith(key.prefix)
    assert "no-store" in shown["Cache-Control"]
    assert "shown only this once" in page
    assert 'data-copy="new-key-value" hidden' in page  # the copy button, shown by the script
    assert f'id="new-key-value" data-new-key-value>{raw_key}</code>' in page  # plain, selectable text without it
    assert raw_key not in caplog.text
    assert not _sessions_hold(raw_key)  # popped by the page that showed it
    assert raw_key not in created.cookies.output() + shown.cookies.output()

    again = client.get(reverse("accounts:account")).content.decode()
    assert raw_key not in again
    assert "data-new-key" not in again
    assert f"<code>{key.prefix}…</code>" in again
    assert "production" in again
    assert "Never" in again  # not used yet
    assert ApiKey.objects.filter(user=free_user).count() == 1
    assert api_key_authenticate(raw_key=raw_key).key == key


def test_a_new_key_revoked_before_the_page_shows_it_is_not_shown(client, free_user):
    client.force_login(free_user)
    client.post(reverse("accounts:api_key_create"), {"name": "oops"})
    api_key_revoke(user=free_user, key_id=ApiKey.objects.get(user=free_user).pk)

    page = client.get(reverse("accounts:account")).content.decode()

    assert not KEY_RE.search(page)
    assert Session.objects.exists()
    assert not any(KEY_RE.search(str(s.get_decoded())) for s in Session.objects.all())


def test_the_account_page_shows_the_api_keys_section_only_with_api_access(client, enterprise_user, no_api_user):
    client.force_login(no_api_user)
    free_page = client.get(reverse("accounts:account")).content.decode()

    assert "The REST API comes with the Premium or Enterprise plan." in free_page
    assert f'href="{reverse("billing:pricing")}"' in free_page
    assert "data-api-key-create" not in free_page

    client.force_login(enterprise_user)
    enterprise_page = client.get(reverse("accounts:account")).content.decode()

    assert "data-api-key-create" in enterprise_page
    assert "0 of 10 keys, up to 600 requests a minute" in enterprise_page
    assert "data-api-upsell" not in enterprise_page


def test_a_user_without_the_api_posting_a_key_creation_gets_the_reason_and_no_key(client, no_api_user):
    client.force_login(no_api_user)

    response = client.post(reverse("accounts:api_key_create"), {"name": "sneaky"}, follow=True)

    assert "does not include the API" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_the_owner_revokes_a_key_from_the_account_page_and_another_user_gets_404(client, enterprise_user, free_user):
    key, raw_key = api_key_create(user=enterprise_user, name="laptop")
    revoke_url = reverse("accounts:api_key_revoke", args=[key.pk])

    client.force_login(free_user)
    stranger = client.post(revoke_url)
    key.refresh_from_db()
    assert stranger.status_code == 404
    assert key.revoked_at is None

    client.force_login(enterprise_user)
    assert client.get(revoke_url).status_code == 405
    owner = client.post(revoke_url, follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "is revoked" in owner.content.decode()
    assert f'data-api-key="{key.prefix}"' not in owner.content.decode()  # gone from the list
    assert client.get(LIST, **bearer(raw_key)).status_code == 401


def test_issue_api_key_prints_only_a_working_key(enterprise_user):
    out = StringIO()

    call_command("issue_api_key", "acme", "--name", "deploy script", stdout=out)

    raw_key = out.getvalue().strip()
    assert KEY_RE.fullmatch(raw_key)
    credential = api_key_authenticate(raw_key=raw_key)
    assert credential is not None
    assert credential.key.name == "deploy script"


def test_issue_api_key_refuses_an_unknown_user_and_a_plan_without_the_api(no_api_user):
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("issue_api_key", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="Free plan does not include the API"):
        call_command("issue_api_key", "reader", stdout=StringIO())
    assert not ApiKey.objects.exists()


def test_the_admin_lists_and_revokes_keys_without_ever_showing_a_hash(admin_client, enterprise_user):
    key, _ = api_key_create(user=enterprise_user, name="ops")
    changelist = reverse("admin:billing_apikey_changelist")

    listing = admin_client.get(changelist, {"q": key.prefix}).content.decode()
    detail = admin_client.get(reverse("admin:billing_apikey_change", args=[key.pk])).content.decode()
    by_user = admin_client.get(changelist, {"q": "acme"}).content.decode()

    assert key.prefix in listing
    assert key.prefix in by_user
    for page in (listing, detail):
        assert key.key_hash not in page
        assert "key_hash" not in page
    admin_client.post(changelist, {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_an_address_trying_keys_is_stopped_for_the_rest_of_the_minute(client, enterprise_user, settings, time_machine):
    settings.API_KEY_FAILURES_PER_MINUTE = 3
    time_machine.move_to("2026-11-24 12:00:10+00:00", tick=False)
    _, real_key = api_key_create(user=enterprise_user, name="real")
    guesser, neighbour = {"REMOTE_ADDR": "203.0.113.66"}, {"REMOTE_ADDR": "203.0.113.67"}
    guesses = [client.get(LIST, **guesser, **bearer(f"avk_guess{n:03d}_{'x' * 40}")).status_code for n in range(3)]

    blocked = client.get(LIST, **guesser, **bearer(real_key))

    assert guesses == [401, 401, 401]
    assert blocked.status_code == 429  # even a good key waits: no lookups for this address until the minute ends
    assert blocked.json()["error"]["code"] == "throttled"
    assert int(blocked["Retry-After"]) == 50
    assert client.get(LIST, **neighbour, **bearer(real_key)).status_code == 200
    time_machine.move_to("2026-11-24 12:01:00+00:00", tick=False)
    assert client.get(LIST, **guesser, **bearer(real_key)).status_code == 200
