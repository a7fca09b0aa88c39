"""CORS only for allowlisted origins, on the API only, never with credentials; state-changing
session requests without a CSRF token get 403."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.billing.factories import SubscriptionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.fast]

ALLOWED = "https://app.example.com"


@pytest.fixture(autouse=True)
def cors_allowlist(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def test_an_allowlisted_origin_may_read_the_api_without_credentials(client):
    response = client.get("/api/v1/avatars", HTTP_ORIGIN=ALLOWED)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert "Access-Control-Allow-Credentials" not in response
    assert "X-RateLimit-Remaining" in response["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("origin", ["https://evil.example.net", "http://app.example.com", "https://app.example.com.evil.net", "null"])
def test_any_other_origin_gets_no_cors_headers(client, origin):
    response = client.get("/api/v1/avatars", HTTP_ORIGIN=origin)

    assert response.status_code == 200  # the answer is public; the browser just will not hand it to that page
    assert "Access-Control-Allow-Origin" not in response


def test_a_preflight_for_a_keyed_post_allows_the_api_headers_only_for_the_allowlisted_origin(client):
    preflight = {
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type, idempotency-key",
    }
    allowed = client.options("/api/v1/generations", HTTP_ORIGIN=ALLOWED, **preflight)
    refused = client.options("/api/v1/generations", HTTP_ORIGIN="https://evil.example.net", **preflight)

    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == ALLOWED
    assert {"authorization", "idempotency-key"} <= set(allowed["Access-Control-Allow-Headers"].split(", "))
    assert "Access-Control-Allow-Credentials" not in allowed
    assert "Access-Control-Allow-Origin" not in refused


def test_pages_outside_the_api_never_get_cors_headers(client):
    response = client.get(reverse("gallery:index"), HTTP_ORIGIN=ALLOWED)

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_a_session_post_without_a_csrf_token_is_refused():
    user = SubscriptionFactory(user__username="ada", plan__slug="enterprise").user
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    forged = browser.post(reverse("accounts:api_key_create"), {"name": "from another site"}, HTTP_ORIGIN="https://evil.example.net")
    page = browser.get(reverse("accounts:account"))
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else browser.cookies["csrftoken"].value
    genuine = browser.post(reverse("accounts:api_key_create"), {"name": "mine", "csrfmiddlewaretoken": token})

    assert forged.status_code == 403
    assert (genuine.status_code, genuine["Location"]) == (302, reverse("accounts:account") + "#new-key")
    assert list(user.api_keys.values_list("name", flat=True)) == ["mine"]


def test_the_api_ignores_the_session_cookie():
    """A signed-in browser session is not an API credential: no cookie-authenticated API request to forge."""
    user = SubscriptionFactory(user__username="bob", plan__slug="enterprise").user
    browser = Client()
    browser.force_login(user)

    response = browser.post("/api/v1/generations", data={"prompt": "A calm man"}, content_type="application/json", HTTP_ORIGIN=ALLOWED)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
