"""The offline demo library: drawn locally, stored like any avatar, loaded once."""

from dataclasses import replace

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from avatarsite.core.demo import demo_library_load
from gallery.models import Avatar
from generation.providers.base import GenerationRequest, GenerationResult
from generation.providers.local import LocalProvider

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


class ReportingGenerator(LocalProvider):
    """The local generator's contract as it reports what it drew (metadata "attributes", "drawn",
    "style"), drawing something the prompt did not ask for: the library must describe the drawing."""

    def generate(self, request: GenerationRequest, context=None) -> GenerationResult:
        result = super().generate(replace(request, prompt="an old woman with short green hair and round glasses"), context)
        return replace(
            result,
            metadata={
                "attributes": {
                    "gender": "female",
                    "age_group": "elderly",
                    "hair_color": "green",
                    "hair_style": "short",
                    "eyewear": "round glasses",
                    "headwear": "beanie",
                    "headwear_color": "red",
                    "facial_hair": "none",
                    "expression": "smile",
                    "background": "teal",
                },
                "drawn": ["short green hair", "round glasses", "red beanie", "smile", "teal background"],
                "not_understood": ["astronaut"],
                "style": "pastel",
            },
        )


def test_titles_tags_and_filter_values_come_from_what_was_drawn_not_from_the_prompt():
    demo_library_load(count=3, size=128, provider=ReportingGenerator())

    for avatar in Avatar.objects.filter(source__slug="demo"):
        assert avatar.title == "Smiling older woman with short green hair, round glasses and red beanie"
        assert (avatar.gender, avatar.age_group, avatar.hair_color, avatar.emotion) == ("female", "elderly", "green", "smiling")
        assert {"short green hair", "round glasses", "red beanie", "pastel"} <= set(avatar.tags)
        assert "astronaut" not in avatar.title + avatar.alt + " ".join(avatar.tags)
        assert avatar.alt.endswith("): smiling older woman with short green hair, round glasses and red beanie, teal background")
        assert avatar.attributes["eyewear"] == "round glasses"
        assert avatar.attributes["style"] == "pastel"
        assert "facial_hair" not in avatar.attributes  # "none" was not drawn


def test_a_library_drawn_by_another_generator_is_drawn_again_in_place():
    demo_library_load(count=3, size=128)
    before = dict(Avatar.objects.values_list("external_id", "pk"))

    redrawn = demo_library_load(count=3, size=128, provider=ReportingGenerator())
    kept = demo_library_load(count=3, size=128, provider=ReportingGenerator())

    assert (redrawn, kept) == (3, 0)
    assert dict(Avatar.objects.values_list("external_id", "pk")) == before  # same ids: links keep working
    assert set(Avatar.objects.values_list("hair_color", flat=True)) == {"green"}
