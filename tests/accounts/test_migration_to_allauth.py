"""Users and sessions from before allauth survive the migration to it: the database is taken back to
the schema before allauth, users sign in there as they did then, and after migrating forward their
sessions are still valid, they sign in through allauth's page, and each has a verified address."""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, override_settings
from django.urls import reverse

PASSWORD = "violet-tiger-42-lantern"
# The schema before allauth: the custom User's first migration, no allauth table.
BEFORE_ALLAUTH = [("accounts", "0001_initial"), ("account", None), ("mfa", None), ("socialaccount", None)]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_users_and_sessions_from_before_allauth_keep_working_after_the_migration():
    _migrate(BEFORE_ALLAUTH)
    try:
        tables = connection.introspection.table_names()
        assert "account_emailaddress" not in tables
        assert "mfa_authenticator" not in tables
        # The accounts table is the same before and after (the migrations only add rows and lower-case
        # addresses), so the model creates users as the old sign-up did; the session is Django's
        # login through ModelBackend, as the old sign-in made it.
        User = get_user_model()
        ada = User.objects.create_user("ada", "Ada.Lovelace@Example.com", PASSWORD)
        User.objects.create_user("bob", "bob@example.com", PASSWORD)
        User.objects.create_user("bob2", "BOB@example.com", PASSWORD)  # admin-made: sign-up refused this
        User.objects.create_user("nomail", "", PASSWORD)
        browser = Client()
        browser.force_login(ada, backend="django.contrib.auth.backends.ModelBackend")
        assert browser.get(reverse("api")).status_code == 200

        # allauth lower-cases every User.email: two addresses differing only in case stop the
        # migration, named, before anything is changed, instead of an integrity error halfway.
        with pytest.raises(RuntimeError, match=r"bob <bob@example.com>, bob2 <BOB@example.com>"):
            _migrate(_latest())
        User.objects.filter(username="bob2").update(email="bob.two@example.com")  # what the message says to do
    finally:
        _migrate(_latest())

    addresses = {a.user.username: (a.email, a.verified, a.primary) for a in EmailAddress.objects.select_related("user")}
    signed_in_page = browser.get(reverse("accounts:account"))
    cache.clear()  # the session also lives in the database (cached_db), as a Redis flush would show
    after_cache_flush = browser.get(reverse("accounts:account"))

    assert addresses == {
        "ada": ("ada.lovelace@example.com", True, True),
        "bob": ("bob@example.com", True, True),
        "bob2": ("bob.two@example.com", True, True),
    }
    assert get_user_model().objects.get(username="ada").email == "ada.lovelace@example.com"
    assert signed_in_page.status_code == 200
    assert "ada.lovelace@example.com" in signed_in_page.content.decode()
    assert after_cache_flush.status_code == 200
    for login in ("ada", "Ada.Lovelace@Example.com", "nomail"):
        fresh = Client()
        answer = fresh.post(reverse("accounts:login"), {"login": login, "password": PASSWORD})
        assert answer.status_code == 302, login
        assert fresh.get(reverse("accounts:account")).status_code == 200, login
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory"):  # production: old users are not held back
        fresh = Client()
        assert fresh.post(reverse("accounts:login"), {"login": "bob", "password": PASSWORD}).url == reverse("home")
