"""What was requested against what was applied (style, model, size), and for the local generator what
of the prompt it drew and what it did not understand: recorded with each image, in the job's JSON
state and on its page."""

import html
import re

from django.urls import reverse

from billing.models import Plan
from generation.models import GeneratedImage
from generation.services import generation_job_create, generation_job_run
from tests.billing.factories import SubscriptionFactory

ISSUE_PROMPT = "A smiling woman with curly red hair and round glasses, astronaut"


def _applied_box(page: str) -> str:
    found = re.search(r'<div class="applied" data-applied>(.*?)</div>', page, re.DOTALL)
    assert found, "no applied box on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def test_a_local_job_records_what_it_drew_and_not_understood_and_the_page_and_state_show_both(client, ada):
    job = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt=ISSUE_PROMPT, style="comic", size=256).id))

    applied = GeneratedImage.objects.get(job=job).applied
    assert applied["requested"] == {"style": "comic", "model": "avatarsite/parts-v2", "size": 256}
    assert (applied["style"], applied["model"], applied["size"]) == ("comic", "avatarsite/parts-v2", 256)
    assert (applied["drawn"], applied["not_understood"]) == (["woman", "curly red hair", "round glasses", "smile"], ["astronaut"])
    assert applied["attributes"]["hair_color"] == "red"

    client.force_login(ada)
    state = client.get(reverse("generation:job_status", args=[job.id])).json()
    shown = state["images"][0]["provenance"]["applied"]
    assert (shown["style_label"], shown["local"], shown["asked"]) == ("Bold comic", True, [])
    assert _applied_box(client.get(reverse("generation:job", args=[job.id])).content.decode()) == (
        "Drawn in Bold comic by avatarsite/parts-v2 at 256 px "
        "Drawn: woman, curly red hair, round glasses, smile · Not understood: astronaut"
    )


def test_a_photo_job_an_operator_sent_to_the_instant_generator_says_what_was_drawn(client, ada):
    """The site never offers the local generator a photo, but an operator may put it in a plan's chain:
    the job then says the style it was drawn in, beside the one asked for."""
    Plan.objects.filter(slug="free").update(provider_chain=["local:avatarsite/parts-v2"])
    job = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt=ISSUE_PROMPT, style="photo", size=256).id))

    client.force_login(ada)
    shown = client.get(reverse("generation:job_status", args=[job.id])).json()["images"][0]["provenance"]["applied"]
    assert (shown["requested"]["style_label"], shown["style_label"]) == ("AI photo", "Flat illustration")
    box = _applied_box(client.get(reverse("generation:job", args=[job.id])).content.decode())
    assert box.startswith("Drawn in Flat illustration by avatarsite/parts-v2 at 256 px")
    assert "You asked for AI photo; it was drawn in Flat illustration." in box
    assert "Not understood: astronaut" in box


def test_an_ai_job_shows_the_model_and_size_applied_against_those_asked(client, ada, providers, settings):
    """Premium asks replicate first; it refuses for good, so fal makes it, and that model tops out
    at 1024 px, so the 2048 px asked for is upscaled."""
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal", "max_side": 1024}},
    }
    SubscriptionFactory(user=ada, plan__slug="premium")
    providers.say("replicate", "permanent")
    job = generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="photo", size=2048)
    asked_model = job.provider_chain[0].split(":", 1)[1]
    job = generation_job_run(job_id=str(job.id))
    assert job.status == "succeeded", job.message
    image = GeneratedImage.objects.get(job=job)
    assert (image.provider, image.upscaled_from) == ("fal", 1024)

    client.force_login(ada)
    shown = client.get(reverse("generation:job_status", args=[job.id])).json()["images"][0]["provenance"]["applied"]
    assert shown["requested"] == {"style": "photo", "style_label": "AI photo", "model": asked_model, "size": 2048}
    assert (shown["style"], shown["model"], shown["size"], shown["local"]) == ("photo", image.model, 1024, False)
    assert (shown["drawn"], shown["not_understood"]) == ([], [])
    assert shown["asked"] == [
        f"You asked for {asked_model}; it was not available, so {image.model} made it.",
        f"You asked for 2048 px; {image.model} makes 1024 px at most, so it was upscaled.",
    ]
    box = _applied_box(client.get(reverse("generation:job", args=[job.id])).content.decode())
    assert box.startswith(f"Made in AI photo by {image.model} at 1024 px")
    assert "Drawn:" not in box
