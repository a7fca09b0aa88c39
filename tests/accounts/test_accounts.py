"""Sign up, sign in, sign out, e-mail verification and password reset, through allauth's real views."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.tokens import default_token_generator
from django.test import override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from avatarsite.accounts.services import user_create

pytestmark = [pytest.mark.django_db, pytest.mark.fast]

PASSWORD = "violet-tiger-42-lantern"
LINK = re.compile(r"https?://[^/\s]+(/accounts/\S+/)")


def _sign_up(client, username="ada", email="ada@example.com", password=PASSWORD, **extra):
    data = {"username": username, "email": email, "password1": password, "password2": password}
    return client.post(reverse("accounts:signup") + extra.get("query", ""), data)


def _sign_in(client, login, password=PASSWORD):
    return client.post(reverse("accounts:login"), {"login": login, "password": password})


def _link(mail) -> str:
    return LINK.search(mail.body).group(1)


def test_sign_up_signs_the_user_in_and_lands_on_the_welcome_page_with_the_next_steps(client, django_user_model):
    response = _sign_up(client)

    assert response.status_code == 302
    assert response.url == reverse("accounts:welcome")  # the old view sent new users to the home page
    user = django_user_model.objects.get(username="ada")
    assert user.email == "ada@example.com"
    assert user.check_password(PASSWORD)
    welcome = client.get(response.url)
    page = welcome.content.decode()
    assert welcome.status_code == 200
    assert "Welcome, ada!" in page
    for step, href in (("generate", reverse("generation:index")), ("gallery", reverse("gallery:index"))):
        assert f'data-step="{step}"' in page
        assert f'href="{href}"' in page
    assert 'data-step="api"' in page  # a key on the account page, or the plans that include the API
    assert "data-verify-email" in page  # the address is not confirmed yet, and the page says where the link went


def test_sign_up_from_a_page_that_asked_for_it_returns_there(client):
    response = _sign_up(client, query="?next=/pricing/")

    assert response.status_code == 302
    assert response.url == "/pricing/"


def test_sign_up_mails_a_confirmation_link_that_verifies_the_address(client, mailoutbox):
    _sign_up(client, email="Ada@Example.com")

    [mail] = mailoutbox
    address = EmailAddress.objects.get(user__username="ada")
    confirm_page = client.get(_link(mail))
    confirmed = client.post(_link(mail))
    address.refresh_from_db()

    assert mail.to == ["ada@example.com"]
    assert mail.subject.startswith("[avatarsite] ")
    assert "Hello from avatarsite!" in mail.body
    assert confirm_page.status_code == 200
    assert confirmed.status_code == 302
    assert (address.email, address.verified, address.primary) == ("ada@example.com", True, True)
    assert 'data-email-status="verified"' in client.get(reverse("accounts:account")).content.decode()


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_with_mandatory_verification_sign_up_waits_for_the_link_then_goes_on_to_the_welcome_page(client, mailoutbox):
    signed_up = _sign_up(client)
    before = client.get(reverse("accounts:account"))
    [mail] = mailoutbox
    confirmed = client.post(_link(mail))

    assert signed_up.status_code == 302
    assert signed_up.url == reverse("account_email_verification_sent")
    assert before.status_code == 302  # not signed in yet
    assert confirmed.status_code == 302
    assert confirmed.url == reverse("accounts:welcome")
    assert client.get(reverse("accounts:account")).status_code == 200


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_with_mandatory_verification_users_from_before_still_sign_in(client):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)

    response = _sign_in(client, "grace")

    assert response.status_code == 302
    assert client.get(reverse("accounts:account")).status_code == 200


@pytest.mark.parametrize("made_by", ["sign-up", "operator"])
def test_sign_up_with_an_email_already_used_in_another_case_is_a_form_error(client, django_user_model, made_by):
    if made_by == "sign-up":
        _sign_up(client.__class__(), username="first", email="Ada@Example.com")
    else:  # createsuperuser, the admin: no allauth address row, the address as typed
        django_user_model.objects.create_user("first", "Ada@Example.com", PASSWORD)

    response = _sign_up(client, username="second", email="ada@example.COM")

    assert response.status_code == 200
    assert "already registered with this email address" in response.content.decode()
    assert not django_user_model.objects.filter(username="second").exists()


def test_sign_up_rejects_a_weak_password_with_a_form_error(client, django_user_model):
    response = _sign_up(client, password="12345678")

    assert response.status_code == 200
    assert "too common" in response.content.decode()
    assert not django_user_model.objects.exists()


@pytest.mark.parametrize("login", ["grace", "grace@example.com", "GRACE@example.com"])
def test_sign_in_with_username_or_email_and_the_right_password(client, login):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)

    response = _sign_in(client, login)

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("accounts:account")).status_code == 200


def test_sign_in_with_a_wrong_password_is_a_form_error(client):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)

    wrong = _sign_in(client, "grace", "not-it")

    assert wrong.status_code == 200
    assert "username and/or password you specified are not correct" in wrong.content.decode()
    assert client.get(reverse("accounts:account")).status_code == 302


def test_sign_in_returns_to_the_page_that_asked_for_it(client):
    user_create(username="grace", email="grace@example.com", password=PASSWORD)

    response = client.post(reverse("accounts:login") + "?next=/generate/", {"login": "grace", "password": PASSWORD})

    assert response.url == "/generate/"


def test_sign_out_asks_on_get_and_signs_out_on_post(client, django_user_model):
    client.force_login(user_create(username="linus", email="linus@example.com", password=PASSWORD))

    by_get = client.get(reverse("accounts:logout"))
    still_in = client.get(reverse("accounts:account")).status_code
    by_post = client.post(reverse("accounts:logout"))

    assert by_get.status_code == 200
    assert "Sign out of avatarsite on this browser?" in by_get.content.decode()
    assert still_in == 200
    assert by_post.status_code == 302
    assert client.get(reverse("accounts:account")).status_code == 302


def test_account_page_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("accounts:account"))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_password_reset_mail_link_sets_a_new_password_that_works(client, mailoutbox):
    user_create(username="barbara", email="barbara@example.com", password=PASSWORD)

    asked = client.post(reverse("accounts:password_reset"), {"email": "barbara@example.com"})
    [mail] = mailoutbox
    form_page = client.get(_link(mail), follow=True)
    set_password = client.post(form_page.redirect_chain[-1][0], {"password1": "new-quiet-harbour-77", "password2": "new-quiet-harbour-77"})

    assert asked.url == reverse("account_reset_password_done")
    assert mail.to == ["barbara@example.com"]
    assert set_password.status_code == 302
    assert set_password.url == reverse("account_reset_password_from_key_done")
    assert client.login(username="barbara", password="new-quiet-harbour-77")
    assert not client.login(username="barbara", password=PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, mailoutbox):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_done")
    assert mailoutbox == []


def test_the_paths_users_know_still_answer(client):
    assert reverse("accounts:login") == reverse("account_login") == "/accounts/login/"
    assert reverse("accounts:signup") == reverse("account_signup") == "/accounts/signup/"
    assert reverse("accounts:logout") == reverse("account_logout") == "/accounts/logout/"
    assert reverse("accounts:password_reset") == reverse("account_reset_password") == "/accounts/password/reset/"
    old_reset = client.get("/accounts/password-reset/")
    assert (old_reset.status_code, old_reset.url) == (301, "/accounts/password/reset/")
    assert client.get("/accounts/password-reset/sent/").url == reverse("account_reset_password_done")


def test_a_reset_link_mailed_before_allauth_still_sets_a_new_password(client):
    user = user_create(username="ken", email="ken@example.com", password=PASSWORD)
    old_link = f"/accounts/password-reset/{urlsafe_base64_encode(force_bytes(user.pk))}/{default_token_generator.make_token(user)}/"

    form_page = client.get(old_link, follow=True)
    saved = client.post(form_page.redirect_chain[-1][0], {"new_password1": "new-quiet-harbour-77", "new_password2": "new-quiet-harbour-77"})

    assert "Choose a new password" in form_page.content.decode()
    assert saved.status_code == 302
    assert saved.url == reverse("account_reset_password_from_key_done")
    assert client.login(username="ken", password="new-quiet-harbour-77")


def test_the_admin_signs_in_through_the_sites_sign_in_page(client, django_user_model):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_account_page_ends_with_a_security_section_linking_email_password_and_two_factor(client):
    client.force_login(user_create(username="ada", email="ada@example.com", password=PASSWORD))

    page = client.get(reverse("accounts:account")).content.decode()
    security = page[page.index("data-security") :]

    assert page.rindex("<section") == page.index('<section class="card account-security"')  # the last section
    for name in ("account_email", "account_change_password", "mfa_index"):
        assert f'href="{reverse(name)}"' in security
    assert 'data-email-status="verified"' in security
    assert 'data-two-factor="off"' in security
    assert "socialaccount_connections" not in security
    assert "Connected accounts" not in security


@pytest.mark.parametrize(
    ("name", "signed_in"),
    [
        ("account_login", False),
        ("account_signup", False),
        ("account_reset_password", False),
        ("account_reset_password_done", False),
        ("account_email_verification_sent", False),
        ("account_logout", True),
        ("account_email", True),
        ("account_change_password", True),
        ("mfa_index", True),
        ("accounts:welcome", True),
    ],
)
def test_every_account_page_is_in_the_sites_frame(client, name, signed_in):
    if signed_in:
        client.force_login(user_create(username="ada", email="ada@example.com", password=PASSWORD))

    response = client.get(reverse(name))
    page = response.content.decode()

    assert response.status_code == 200
    assert '<header class="site-header">' in page
    assert "/static/css/site.css" in page
    assert "<h1>" in page
    assert "Menu:" not in page  # allauth's bare default layout
