"""The offline demo library: drawn locally, stored like any avatar, loaded once."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from avatarsite.core.demo import demo_library_load
from gallery.models import Avatar

pytestmark = pytest.mark.django_db


def test_demo_avatars_are_stored_as_illustrations_marked_demo_and_loaded_once():
    created = demo_library_load(count=6, size=256)
    again = demo_library_load(count=6, size=256)

    avatars = Avatar.objects.filter(source__slug="demo")
    assert (created, again, avatars.count()) == (6, 0, 6)
    assert all(a.is_demo and a.style == "illustration" for a in avatars)
    assert all(a.gender in {"female", "male"} and a.hair_color for a in avatars)
    assert avatars.first().variants.filter(size=256).count() == 2


def test_demo_avatars_fill_the_gallery_and_credit_nobody(client):
    demo_library_load(count=4, size=128)

    grid = client.get(reverse("gallery:index"), {"style": "illustration"}).content.decode()
    page = client.get(reverse("gallery:detail", args=[Avatar.objects.first().pk])).content.decode()

    assert grid.count('class="avatar-card"') == 4
    assert "Photo by" not in page
    assert "Demo content (CC0)" in page


def test_load_demo_refuses_with_debug_off_unless_forced(capsys):
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("load_demo")

    call_command("load_demo", "--force", "--avatars", "2")

    out = capsys.readouterr().out
    assert "username 'demo'" in out
    assert "Demo library: 2 avatars (2 drawn now)" in out
