"""Every page the navigation links to answers, and the home page links to each of them."""

import pytest
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.generation.factories import GenerationJobFactory

pytestmark = [pytest.mark.django_db, pytest.mark.fast]

NAV = ["gallery:index", "generation:index", "billing:pricing", "api", "accounts:login", "accounts:signup"]


@pytest.mark.parametrize("name", ["home", "gallery:index", "billing:pricing", "api", "accounts:login", "accounts:signup"])
def test_public_pages_answer_200(client, name):
    assert client.get(reverse(name)).status_code == 200


def test_home_page_links_to_every_section(client):
    html = client.get(reverse("home")).content.decode()

    for name in NAV:
        assert f'href="{reverse(name)}"' in html


def test_generate_page_needs_an_account_and_lists_the_users_own_jobs(client):
    owner = GenerationJobFactory(prompt="a fox in a scarf").user
    GenerationJobFactory(prompt="a secret prompt")  # another user's

    anonymous = client.get(reverse("generation:index"))
    client.force_login(owner)
    signed_in = client.get(reverse("generation:index")).content.decode()

    assert anonymous.status_code == 302
    assert "a fox in a scarf" in signed_in
    assert "a secret prompt" not in signed_in


def test_signed_in_navigation_offers_account_and_sign_out(client):
    client.force_login(UserFactory(username="nav"))

    html = client.get(reverse("home")).content.decode()

    assert f'href="{reverse("accounts:account")}"' in html
    assert f'action="{reverse("accounts:logout")}"' in html
    assert f'href="{reverse("accounts:login")}"' not in html
