"""Optional TOTP two-factor sign-in (allauth.mfa): enrolment from the account page's Security section,
then signing in with a code an authenticator app would show (RFC 6238, computed here)."""

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from django.urls import reverse

from avatarsite.accounts.services import user_create
from tests.support.workers import wait_for

pytestmark = pytest.mark.django_db

PASSWORD = "violet-tiger-42-lantern"
SECRET_INPUT = re.compile(r'id="authenticator_secret"[^>]*value="([A-Z2-7=]+)"|value="([A-Z2-7=]+)"[^>]*id="authenticator_secret"')


def totp(secret: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """The code an authenticator app shows (RFC 6238: HOTP of the 30-second counter, HMAC-SHA1)."""
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def current_code(secret: str) -> str:
    """The code of the current step, taken at least 2 s before the step ends, so the server checks it
    within the same step (only the current step's code is accepted)."""
    wait_for(lambda: time.time() % 30 < 28, timeout=5, interval=0.05, what="a fresh 30-second step")
    return totp(secret)


def test_totp_helper_matches_the_rfc_6238_test_vector():
    secret = base64.b32encode(b"12345678901234567890").decode()

    assert totp(secret, at=59, digits=8) == "94287082"
    assert totp(secret, at=1111111109, digits=8) == "07081804"


def _sign_in(client, password=PASSWORD):
    return client.post(reverse("accounts:login"), {"login": "ada", "password": password})


def _enrol(client) -> str:
    """Open the activation page, as the Security section's link does: allauth first asks for the
    password again (changing two-factor needs a fresh sign-in), then shows the secret and its QR code."""
    asked = client.get(reverse("mfa_activate_totp"))
    assert asked.status_code == 302
    assert asked.url.startswith(reverse("account_reauthenticate"))
    confirmed = client.post(asked.url, {"password": PASSWORD})
    assert confirmed.status_code == 302
    assert confirmed.url == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_activate_totp")).content.decode()
    match = SECRET_INPUT.search(page)
    assert match, "the activation page shows no secret"
    assert 'class="totp-qr"' in page  # the QR code for the app
    return match.group(1) or match.group(2)


def test_a_user_turns_on_two_factor_and_then_signs_in_with_a_code(client):
    user_create(username="ada", email="ada@example.com", password=PASSWORD)
    _sign_in(client)
    security_before = client.get(reverse("accounts:account")).content.decode()

    secret = _enrol(client)
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000" if totp(secret) != "000000" else "111111"})
    activated = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    security_after = client.get(reverse("accounts:account")).content.decode()
    client.post(reverse("accounts:logout"))

    password_step = _sign_in(client)
    between = client.get(reverse("accounts:account"))
    bad_code = client.post(reverse("mfa_authenticate"), {"code": "000000" if totp(secret) != "000000" else "111111"})
    code = current_code(secret)
    good_code = client.post(reverse("mfa_authenticate"), {"code": code})
    signed_in = client.get(reverse("accounts:account"))
    client.post(reverse("accounts:logout"))
    _sign_in(client)
    replayed = client.post(reverse("mfa_authenticate"), {"code": code})

    assert 'data-two-factor="off"' in security_before
    assert f'href="{reverse("mfa_index")}"' in security_before
    assert "Incorrect code" in wrong.content.decode()
    assert activated.status_code == 302
    assert 'data-two-factor="on"' in security_after
    assert "recovery codes left" in security_after
    assert password_step.status_code == 302
    assert password_step.url == reverse("mfa_authenticate")  # the password alone is not enough
    assert between.status_code == 302
    assert "Incorrect code" in bad_code.content.decode()
    assert good_code.status_code == 302
    assert signed_in.status_code == 200
    assert "Incorrect code" in replayed.content.decode()  # a code works once
    assert client.get(reverse("accounts:account")).status_code == 302


def test_two_factor_needs_a_confirmed_email_address(client):
    client.post(
        reverse("accounts:signup"),
        {"username": "ada", "email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    security = client.get(reverse("accounts:account")).content.decode()

    refused = client.get(reverse("mfa_activate_totp"), follow=True)

    assert "confirm your e-mail address to turn it on" in security
    assert refused.redirect_chain == [(reverse("mfa_index"), 302)]
    assert "until you have verified your email address" in refused.content.decode()
    assert 'data-two-factor="off"' in client.get(reverse("accounts:account")).content.decode()
