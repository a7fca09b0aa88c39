"""Sign up, sign in, sign out and password reset, through the real views."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "violet-tiger-42-lantern"


def _sign_up(client, username="ada", email="ada@example.com", password=PASSWORD):
    return client.post(reverse("accounts:signup"), {"username": username, "email": email, "password1": password, "password2": password})


def test_sign_up_creates_the_user_and_signs_them_in(client, django_user_model):
    response = _sign_up(client)

    assert response.status_code == 302
    assert response.url == reverse("home")
    user = django_user_model.objects.get(username="ada")
    assert user.email == "ada@example.com"
    assert user.check_password(PASSWORD)
    account = client.get(reverse("accounts:account"))
    assert account.status_code == 200
    assert "ada@example.com" in account.content.decode()


def test_sign_up_with_an_email_already_used_in_another_case_is_a_form_error(client, django_user_model):
    django_user_model.objects.create_user("first", "Ada@Example.com", PASSWORD)

    response = _sign_up(client, username="second", email="ada@example.COM")

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not django_user_model.objects.filter(username="second").exists()


def test_sign_up_rejects_a_weak_password_with_a_form_error(client, django_user_model):
    response = _sign_up(client, password="12345678")

    assert response.status_code == 200
    assert "too common" in response.content.decode()
    assert not django_user_model.objects.exists()


def test_sign_in_with_the_right_password_and_not_with_a_wrong_one(client, django_user_model):
    django_user_model.objects.create_user("grace", "grace@example.com", PASSWORD)

    wrong = client.post(reverse("accounts:login"), {"username": "grace", "password": "not-it"})
    right = client.post(reverse("accounts:login"), {"username": "grace", "password": PASSWORD})

    assert wrong.status_code == 200
    assert "enter a correct username and password" in wrong.content.decode()
    assert right.status_code == 302
    assert client.get(reverse("accounts:account")).status_code == 200


def test_sign_out_needs_a_post_and_then_signs_out(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("linus", "linus@example.com", PASSWORD))

    by_get = client.get(reverse("accounts:logout"))
    by_post = client.post(reverse("accounts:logout"))

    assert by_get.status_code == 405
    assert by_post.status_code == 302
    assert client.get(reverse("accounts:account")).status_code == 302


def test_account_page_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("accounts:account"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_password_reset_mail_link_sets_a_new_password_that_works(client, django_user_model, mailoutbox):
    django_user_model.objects.create_user("barbara", "barbara@example.com", PASSWORD)

    client.post(reverse("accounts:password_reset"), {"email": "barbara@example.com"})
    [mail] = mailoutbox
    link = re.search(r"https?://[^/]+(/accounts/password-reset/\S+/)", mail.body).group(1)
    form_page = client.get(link, follow=True)
    set_password = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "new-quiet-harbour-77", "new_password2": "new-quiet-harbour-77"}
    )

    assert mail.to == ["barbara@example.com"]
    assert set_password.status_code == 302
    assert set_password.url == reverse("accounts:password_reset_complete")
    assert client.login(username="barbara", password="new-quiet-harbour-77")
    assert not client.login(username="barbara", password=PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, mailoutbox):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert mailoutbox == []
