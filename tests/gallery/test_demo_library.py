"""The offline demo library: drawn locally, stored like any avatar, loaded once."""

import re
import subprocess
from dataclasses import replace

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from gallery.demo import demo_library_load
from gallery.imaging import hamming_distance
from gallery.models import Avatar
from generation.demo_drawer import LocalDemoDrawer
from generation.providers.base import GenerationRequest, GenerationResult
from generation.providers.local import LocalProvider
from tests.support.processes import PROJECT_DIR, PYTHON, embedded_env

pytestmark = pytest.mark.django_db


def test_demo_avatars_are_stored_as_illustrations_marked_demo_and_loaded_once():
    created = demo_library_load(count=6, size=256)
    again = demo_library_load(count=6, size=256)

    avatars = Avatar.objects.filter(source__slug="demo")
    assert (created, again, avatars.count()) == (6, 0, 6)
    assert all(a.is_demo and a.style == "illustration" for a in avatars)
    assert all(a.gender in {"female", "male"} for a in avatars)
    assert all(a.hair_color or a.attributes.get("hair_style") == "bald" for a in avatars)  # a bald head has no hair colour
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
    demo_library_load(count=3, size=128, drawer=LocalDemoDrawer(ReportingGenerator()))

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

    redrawn = demo_library_load(count=3, size=128, drawer=LocalDemoDrawer(ReportingGenerator()))
    kept = demo_library_load(count=3, size=128, drawer=LocalDemoDrawer(ReportingGenerator()))

    assert (redrawn, kept) == (3, 0)
    assert dict(Avatar.objects.values_list("external_id", "pk")) == before  # same ids: links keep working
    assert set(Avatar.objects.values_list("hair_color", flat=True)) == {"green"}


def test_load_demo_makes_no_staff_account_off_the_embedded_default(capsys, settings, django_user_model):
    settings.DEBUG = True  # DEBUG on, but this database is PostgreSQL: not the embedded default

    call_command("load_demo", "--avatars", "0")

    assert "No staff account: only on the embedded default" in capsys.readouterr().out
    assert not django_user_model.objects.filter(is_staff=True).exists()


STAFF_LOGIN = """
from django.contrib.auth import authenticate
user = authenticate(username={username!r}, password={password!r})
print(bool(user and user.is_staff and user.is_superuser))
"""


def test_load_demo_prints_a_working_staff_account_on_the_embedded_default_and_refuses_it_with_debug_off(tmp_path):
    env = embedded_env(tmp_path / "media", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")

    def manage(*args: str, **extra: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=PROJECT_DIR, env={**env, **extra}, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    forced = manage("load_demo", "--force", "--avatars", "0", DJANGO_DEBUG="false")
    first = manage("load_demo", "--avatars", "0")
    second = manage("load_demo", "--avatars", "0")

    assert "username 'demo'" in forced
    assert "No staff account: only on the embedded default (DEBUG on, SQLite)" in forced
    staff = re.compile(r"Staff account for /admin/: username '(\w+)', password '([^']+)'")
    (username, old_password), (_, password) = staff.search(first).groups(), staff.search(second).groups()
    assert username == "admin"
    assert old_password != password  # new at each start: the one printed last is the one that works
    assert manage("shell", "-c", STAFF_LOGIN.format(username=username, password=password)).splitlines()[-1] == "True"
    assert manage("shell", "-c", STAFF_LOGIN.format(username=username, password=old_password)).splitlines()[-1] == "False"


def test_no_two_demo_avatars_are_near_duplicates(settings):
    """Words that leave a drawing close to one already in the library are swapped for others."""
    demo_library_load(count=48, size=128)

    hashes = [int(value, 16) for value in Avatar.objects.filter(source__slug="demo").values_list("phash", flat=True)]
    closest = [min(hamming_distance(a, b) for j, b in enumerate(hashes) if j != i) for i, a in enumerate(hashes)]
    assert len(hashes) == 48
    assert min(closest) > settings.GALLERY_DUPLICATE_MAX_DISTANCE, sorted(closest)[:5]
