"""Every page the navigation links to answers, and the home page links to each of them."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

NAV = ["gallery:index", "generation:index", "billing:pricing", "api", "accounts:login", "accounts:signup"]


@pytest.mark.parametrize("name", ["home", "gallery:index", "billing:pricing", "api", "accounts:login", "accounts:signup"])
def test_public_pages_answer_200(client, name):
    assert client.get(reverse(name)).status_code == 200


def test_home_page_links_to_every_section(client):
    html = client.get(reverse("home")).content.decode()

    for name in NAV:
        assert f'href="{reverse(name)}"' in html


def test_generate_page_needs_an_account_and_lists_the_users_own_jobs(client, django_user_model):
    from generation.models import GenerationJob

    owner = django_user_model.objects.create_user("owner", "owner@example.com", "pw-123456789")
    other = django_user_model.objects.create_user("other", "other@example.com", "pw-123456789")
    GenerationJob.objects.create(user=owner, prompt="a fox in a scarf")
    GenerationJob.objects.create(user=other, prompt="a secret prompt")

    anonymous = client.get(reverse("generation:index"))
    client.force_login(owner)
    signed_in = client.get(reverse("generation:index")).content.decode()

    assert anonymous.status_code == 302
    assert "a fox in a scarf" in signed_in
    assert "a secret prompt" not in signed_in


def test_signed_in_navigation_offers_account_and_sign_out(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nav", "nav@example.com", "pw-123456789"))

    html = client.get(reverse("home")).content.decode()

    assert f'href="{reverse("accounts:account")}"' in html
    assert f'action="{reverse("accounts:logout")}"' in html
    assert f'href="{reverse("accounts:login")}"' not in html
