"""The offline demo library: varied avatars drawn by the local generator, stored as gallery avatars.

This is wiring between two apps (`gallery` must not know `generation`), so it lives here.
"""

import random
import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from gallery.importers.base import RemoteAvatar
from gallery.models import Avatar
from gallery.services import avatar_import_remote, source_assert_importable, source_get_or_create
from generation.providers.base import GenerationRequest
from generation.providers.local import STYLES, LocalProvider

DEMO_SOURCE = "demo"
STAFF_USERNAME = "admin"
STAFF_EMAIL = "admin@example.com"
PEOPLE = (("woman", "female"), ("man", "male"), ("girl", "female"), ("boy", "male"))
AGES = {"woman": "adult", "man": "adult", "girl": "young-adult", "boy": "young-adult"}
HAIR = ("black", "brown", "blond", "red", "gray", "pink", "blue", "purple")
LENGTHS = ("short", "long", "curly", "")
EXTRAS = ("and glasses", "and a beard", "and a hat", "smiling", "serious", "", "", "")
STOP_WORDS = frozenset({"with", "and", "a", "hair"})


def _demo_prompt(rng: random.Random) -> tuple[str, dict[str, str]]:
    """E.g. 'woman with long red hair and glasses', with the attributes it implies."""
    person, gender = rng.choice(PEOPLE)
    hair = rng.choice(HAIR)
    extra = rng.choice(EXTRAS)
    if extra == "and a beard" and gender == "female":
        extra = "smiling"
    prompt = " ".join(part for part in (person, "with", rng.choice(LENGTHS), hair, "hair", extra) if part)
    return prompt, {"gender": gender, "age_group": AGES[person], "hair_color": hair}


def demo_library_load(*, count: int, size: int = 512, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Draw and store `count` demo avatars (the same ones every time); returns how many were new.
    Raises SourceNotImportable, before drawing anything, when an operator has unticked the demo source."""
    source = source_get_or_create(slug=DEMO_SOURCE)
    source_assert_importable(source=source)
    existing = set(Avatar.objects.filter(source=source).values_list("external_id", flat=True))
    provider = LocalProvider()
    rng = random.Random(2026)  # noqa: S311 - the demo library is the same on every machine, by design
    created = 0
    for index in range(count):
        prompt, attributes = _demo_prompt(rng)
        style = STYLES[index % len(STYLES)]
        external_id = f"demo-{index:04d}"
        if external_id not in existing:
            result = provider.generate(GenerationRequest(prompt=prompt, style=style, seed=index, size=size))
            remote = RemoteAvatar(
                external_id=external_id,
                image_url="",
                width=size,
                height=size,
                title=prompt.capitalize(),
                alt=f"Illustrated avatar: {prompt}",
                tags=(*(word for word in prompt.split() if word not in STOP_WORDS), style),
                attributes=attributes,
            )
            avatar_import_remote(source=source, remote=remote, image_bytes=result.images[0].data, retrieved_at=timezone.now(), is_demo=True)
            created += 1
        if on_progress:
            on_progress(index + 1, count)
    return created


class StaffAccountRefused(Exception):
    """The staff account is not made here; the message says why."""


def embedded_default() -> bool:
    """DEBUG on and the site's own SQLite file: a machine's local look at the site, nobody else's."""
    return settings.DEBUG and connection.vendor == "sqlite"


@transaction.atomic
def demo_staff_account_reset() -> tuple[str, str]:
    """The local admin's username and a new random password (set on every call, so the one printed
    last is the one that works), for /admin/ on the embedded default only: a staff account with a
    password printed to a console must never exist on a site others can reach."""
    if not embedded_default():
        raise StaffAccountRefused("only on the embedded default (DEBUG on, SQLite); elsewhere use manage.py createsuperuser")
    users = get_user_model().objects
    if users.filter(email__iexact=STAFF_EMAIL).exclude(username=STAFF_USERNAME).exists():
        raise StaffAccountRefused(f"another account uses {STAFF_EMAIL}; it is left alone")
    user, created = users.get_or_create(username=STAFF_USERNAME, defaults={"email": STAFF_EMAIL, "display_name": "Admin"})
    if not created and not user.is_superuser:
        raise StaffAccountRefused(f"a user named '{STAFF_USERNAME}' signed up here and is not staff; it is left alone")
    password = secrets.token_urlsafe(12)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return user.username, password
