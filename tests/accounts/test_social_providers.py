"""Social sign-in providers come from the environment: none by default, GitHub and Google once their
OAuth client id and secret are set (the secret never reaches a page)."""

import json
import os
import subprocess

import pytest
from django.conf import settings
from django.urls import reverse

from tests.support.processes import PROJECT_DIR, PYTHON, subprocess_database_url

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
page = client.get("/accounts/login/").content.decode()
starts = {}
for provider in settings.SOCIALACCOUNT_PROVIDERS:
    start = client.post(f"/accounts/{provider}/login/?process=login")
    starts[provider] = start.get("Location", "")
print(json.dumps({
    "providers": sorted(settings.SOCIALACCOUNT_PROVIDERS),
    "apps": [app for app in settings.INSTALLED_APPS if ".providers." in app],
    "page": page,
    "starts": starts,
}))
"""


def _seen_with(**variables: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), **variables}
    return subprocess.run([PYTHON, "-c", PROBE], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.django_db
def test_no_social_provider_is_offered_by_default(client):
    page = client.get(reverse("accounts:login")).content.decode()

    assert settings.SOCIALACCOUNT_PROVIDERS == {}
    assert not [app for app in settings.INSTALLED_APPS if ".providers." in app]
    assert "data-social-providers" not in page
    assert client.get("/accounts/github/login/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_github_and_google_are_offered_once_their_oauth_clients_are_set():
    result = _seen_with(
        GITHUB_OAUTH_CLIENT_ID="gh-client-123",
        GITHUB_OAUTH_CLIENT_SECRET="gh-secret-must-stay-hidden",
        GOOGLE_OAUTH_CLIENT_ID="goog-client-456.apps.googleusercontent.com",
        GOOGLE_OAUTH_CLIENT_SECRET="goog-secret-must-stay-hidden",
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["providers"] == ["github", "google"]
    assert seen["apps"] == ["allauth.socialaccount.providers.github", "allauth.socialaccount.providers.google"]
    assert "data-social-providers" in seen["page"]
    assert 'data-provider="github"' in seen["page"]
    assert 'data-provider="google"' in seen["page"]
    assert "must-stay-hidden" not in seen["page"]
    # The sign-in goes to the provider with our client id, and a callback on this site.
    assert seen["starts"]["github"].startswith("https://github.com/login/oauth/authorize?client_id=gh-client-123")
    assert "accounts%2Fgithub%2Flogin%2Fcallback%2F" in seen["starts"]["github"]
    assert seen["starts"]["google"].startswith("https://accounts.google.com/o/oauth2/v2/auth?client_id=goog-client-456")


@pytest.mark.django_db(transaction=True)
def test_a_provider_with_an_id_but_no_secret_stops_the_start():
    result = _seen_with(GITHUB_OAUTH_CLIENT_ID="gh-client-123")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "github needs both its client id and its secret" in result.stderr
