"""Sign-in is rate limited per client address and per account (the 6th failed attempt in a
minute is refused without checking the password), sequentially and under 20 concurrent attempts
against a real multi-process server counting in Redis."""

import re
import threading

import pytest
import requests
from django.urls import reverse

from avatarsite.accounts.services import user_create
from tests.support.processes import free_port, project_env, running, subprocess_database_url, uvicorn_args

PASSWORD = "violet-tiger-42-lantern"
MISMATCH = "password you specified are not correct"
THROTTLED = "Too many failed login attempts"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
WRONG = "wrong-password"


def _attempt(client, login, password=WRONG, address="198.51.100.7"):
    return client.post(reverse("accounts:login"), {"login": login, "password": password}, REMOTE_ADDR=address).content.decode()


@pytest.mark.django_db
def test_the_sixth_failed_sign_in_on_an_account_is_refused_even_with_the_right_password(client):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)

    # Each from another address: only the per-account count can stop them.
    first_five = [_attempt(client, "grace", address=f"198.51.100.{n}") for n in range(5)]
    sixth = _attempt(client, "grace", password=PASSWORD, address="198.51.100.6")

    assert all(MISMATCH in page for page in first_five)
    assert THROTTLED in sixth
    assert client.get(reverse("accounts:account")).status_code == 302  # not signed in


@pytest.mark.django_db
def test_the_sixth_failed_sign_in_from_one_address_is_refused_whatever_the_account(client):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)

    first_five = [_attempt(client, f"someone-{n}") for n in range(5)]
    sixth = _attempt(client, "grace", password=PASSWORD)
    other_address = _attempt(client, "grace", password=PASSWORD, address="203.0.113.9")

    assert all(MISMATCH in page for page in first_five)
    assert THROTTLED in sixth
    assert THROTTLED not in other_address  # the limit is the address's, not the account's
    assert client.get(reverse("accounts:account")).status_code == 200


@pytest.mark.django_db
def test_successful_sign_ins_do_not_count(client):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)

    pages = [_attempt(client, "grace", password=PASSWORD) for _ in range(8)]

    assert not any(THROTTLED in page for page in pages)


def _concurrent_attempts(site: str, attempts: list[dict[str, str]]) -> list[str]:
    """Each attempt from its own session (a sign-in page, its CSRF token), all posted at once."""
    sessions, tokens = [], []
    for _ in attempts:
        session = requests.Session()
        session.trust_env = False
        tokens.append(CSRF_INPUT.search(session.get(f"{site}/accounts/login/", timeout=30).text).group(1))
        sessions.append(session)
    barrier = threading.Barrier(len(attempts))
    pages: list[str] = [""] * len(attempts)

    def post(n: int) -> None:
        attempt = attempts[n]
        barrier.wait(timeout=30)
        pages[n] = (
            sessions[n]
            .post(
                f"{site}/accounts/login/",
                data={"login": attempt["login"], "password": WRONG, "csrfmiddlewaretoken": tokens[n]},
                headers={"X-Forwarded-For": attempt["address"]},
                timeout=60,
            )
            .text
        )

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(pages), "an attempt got no answer"
    return pages


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_attempts_get_five_password_checks_per_account_and_per_address(artifacts_dir):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    # Three server processes sharing the count in Redis; behind one trusted proxy, so each attempt
    # can come from an address of its own (X-Forwarded-For).
    env = project_env(DATABASE_URL=subprocess_database_url(), DJANGO_NUM_PROXIES="1")
    with running([*uvicorn_args(port), "--workers", "3"], env=env, port=port, log=artifacts_dir / "login-throttle-uvicorn.log"):
        one_account = _concurrent_attempts(site, [{"login": "grace", "address": f"198.51.100.{n}"} for n in range(20)])
        one_address = _concurrent_attempts(site, [{"login": f"someone-{n}", "address": "203.0.113.5"} for n in range(20)])
        session = requests.Session()
        session.trust_env = False
        token = CSRF_INPUT.search(session.get(f"{site}/accounts/login/", timeout=30).text).group(1)
        right_password = session.post(
            f"{site}/accounts/login/",
            data={"login": "grace", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"X-Forwarded-For": "192.0.2.44"},
            timeout=30,
        ).text

    for pages in (one_account, one_address):
        checked = sum(MISMATCH in page for page in pages)
        refused = sum(THROTTLED in page for page in pages)
        assert checked + refused == 20
        assert 1 <= checked <= 5, f"{checked} passwords were checked"
    assert THROTTLED in right_password  # the account stays locked for the rest of the window
