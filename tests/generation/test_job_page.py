"""A job's page while it waits (similar premade avatars and the user's own earlier results, nobody
else's), its "How it went" list of provider calls, and the ETA the form and the page show."""

import html
import re
from collections import deque
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from gallery.importers.base import RemoteAvatar
from gallery.models import Avatar, Source
from gallery.services import avatar_import_remote, source_get_or_create
from generation.models import CostEntry, GenerationJob
from generation.providers.base import GenerationRequest
from generation.providers.local import LocalProvider
from generation.selectors import lane_estimate, provider_latency_seconds
from generation.services import _job_fail, generation_job_create, generation_job_run
from tests.generation import scripted

PROMPT = "A smiling pirate with a red beard"


def _premade(title: str, tags: tuple[str, ...], downloads: int, seed: int, source: str = "demo") -> Avatar:
    source = source_get_or_create(slug=source)
    drawn = LocalProvider().generate(GenerationRequest(prompt=title, style="flat", seed=seed, size=128))
    remote = RemoteAvatar(external_id=f"page-test-{seed}", image_url="", width=128, height=128, title=title, tags=tags)
    avatar_import_remote(source=source, remote=remote, image_bytes=drawn.images[0].data, retrieved_at=timezone.now(), is_demo=True)
    avatar = Avatar.objects.get(source=source, external_id=remote.external_id)
    Avatar.objects.filter(pk=avatar.pk).update(download_count=downloads)
    return avatar


def _section(page: str, pattern: str) -> str:
    found = re.search(pattern, page, re.DOTALL)
    assert found, f"no match for {pattern!r}"
    return found.group(1)


def _similar_links(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', _section(page, r"<section class=\"while-waiting\" data-similar>(.*?)</section>"))


def _job_url(job: GenerationJob) -> str:
    return reverse("generation:job", args=[job.id])


def _gallery_url(avatar: Avatar) -> str:
    return reverse("gallery:detail", args=[avatar.pk])


# --- while you wait ----------------------------------------------------------------------------------------
def test_a_queued_jobs_page_shows_related_premade_avatars_and_the_users_own_earlier_result_and_nobody_elses(client, providers, ada, bob):
    # Related to the prompt, but the least downloaded: shown only because they are related.
    sailor = _premade("Sailor with a beard", ("sailor", "beard"), downloads=1, seed=1)
    pirate = _premade("Pirate captain", ("pirate", "captain"), downloads=0, seed=2)
    unrelated = [
        _premade(title, (title.split()[0].lower(),), downloads=downloads, seed=seed)
        for seed, (title, downloads) in enumerate(
            [
                ("Astronaut portrait", 60),
                ("Chef in white", 50),
                ("Violinist on stage", 40),
                ("Gardener among tulips", 30),
                ("Skater at dusk", 20),
                ("Librarian at work", 10),
            ],
            start=3,
        )
    ]
    own_related = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A pirate on a ship", style="comic").id))
    own_unrelated = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A robot in a hat", style="comic").id))
    own_failed = generation_job_create(user_id=ada.pk, prompt="A pirate in the rain", style="comic")
    _job_fail(job=own_failed, kind="transient", message="failed")
    bobs = generation_job_run(job_id=str(generation_job_create(user_id=bob.pk, prompt="Bob's pirate beard secret", style="comic").id))
    assert own_related.status == own_unrelated.status == bobs.status == "succeeded"
    queued = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    assert queued.status == "queued"
    client.force_login(ada)

    page = client.get(_job_url(queued)).content.decode()

    assert "While you wait: similar avatars" in page
    # Her own earlier result first, then the related premade ones (most downloaded first), then the
    # most downloaded others to fill the row of six.
    assert _similar_links(page) == [
        _job_url(own_related),
        _gallery_url(sailor),
        _gallery_url(pirate),
        *[_gallery_url(avatar) for avatar in unrelated[:4]],
    ]
    assert "Your earlier avatar: A pirate on a ship" in page
    assert "X-Amz-Signature" in _section(page, r"<section class=\"while-waiting\" data-similar>(.*?)</section>")  # private: signed
    assert str(own_unrelated.id) not in page
    assert str(own_failed.id) not in page
    assert str(bobs.id) not in page
    assert "secret" not in page


def test_an_earlier_result_sharing_only_a_common_word_is_not_offered_as_similar(client, providers, ada):
    unrelated = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A robot with a hat", style="comic").id))
    related = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="Pirate, grinning.", style="comic").id))
    queued = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    client.force_login(ada)

    page = client.get(_job_url(queued)).content.decode()

    assert unrelated.status == related.status == "succeeded"
    assert str(unrelated.id) not in page
    assert str(related.id) in page  # "Pirate," is the prompt's "pirate"


def test_premade_avatars_of_a_source_whose_licence_is_withdrawn_are_not_offered_while_waiting(client, providers, ada):
    Source.objects.update_or_create(
        slug="generated_photos", defaults={"name": "Generated Photos", "enabled": True, "licence_confirmed": True}
    )
    face = _premade("Pirate face", ("pirate", "beard"), downloads=90, seed=1, source="generated_photos")
    other = _premade("Sailor with a beard", ("sailor", "beard"), downloads=1, seed=2)
    queued = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    client.force_login(ada)
    assert _similar_links(client.get(_job_url(queued)).content.decode()) == [_gallery_url(face), _gallery_url(other)]
    source = Source.objects.get(slug="generated_photos")

    source.licence_confirmed = False  # as the admin saves it
    source.save()

    assert _similar_links(client.get(_job_url(queued)).content.decode()) == [_gallery_url(other)]
    source.licence_confirmed = True
    source.save()
    assert _similar_links(client.get(_job_url(queued)).content.decode()) == [_gallery_url(face), _gallery_url(other)]


# --- how it went ---------------------------------------------------------------------------------------------
def _attempts(page: str) -> list[str]:
    details = _section(page, r'<details class="attempts"><summary>How it went</summary>(.*?)</details>')
    return [html.unescape(item).strip() for item in re.findall(r"<li>(.*?)</li>", details, re.DOTALL)]


def _set_latencies(job: GenerationJob, *latencies: int) -> None:
    calls = list(CostEntry.objects.filter(job=job).order_by("created_at", "id"))
    assert len(calls) == len(latencies)
    for call, latency in zip(calls, latencies, strict=True):
        CostEntry.objects.filter(pk=call.pk).update(latency_ms=latency)


def test_how_it_went_lists_each_provider_call_in_order_with_its_outcome(client, providers, ada, settings):
    settings.GENERATION_PROVIDER_ATTEMPTS = 2
    scripted.SCRIPTS["fal"] = deque(["transient", "transient"])
    fell_back = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt=PROMPT).id))
    _set_latencies(fell_back, 1500, 1600, 2300)
    scripted.SCRIPTS["fal"] = deque(["refused"])
    refused = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A calm man with a hat").id))
    _set_latencies(refused, 800)
    waiting = generation_job_create(user_id=ada.pk, prompt="A quiet girl in a garden")
    client.force_login(ada)

    fell_back_page = client.get(_job_url(fell_back)).content.decode()
    refused_page = client.get(_job_url(refused)).content.decode()
    waiting_page = client.get(_job_url(waiting)).content.decode()

    assert (fell_back.status, refused.status) == ("succeeded", "failed")
    assert _attempts(fell_back_page) == [
        "fal · fal-ai/flux/schnell · Failed · 1500 ms · transient",
        "fal · fal-ai/flux/schnell · Failed · 1600 ms · transient",
        "replicate · black-forest-labs/flux-schnell · Succeeded · 2300 ms",
    ]
    assert _attempts(refused_page) == ["fal · fal-ai/flux/schnell · Refused · 800 ms · refused"]
    assert 'class="attempts"' not in waiting_page  # no call yet: nothing to tell


# --- the ETA -------------------------------------------------------------------------------------------------
def _ledger_call(owner, *, provider: str, outcome: str, latency_ms: int, age: timedelta) -> None:
    job = GenerationJob.objects.create(user=owner, prompt="ledger", plan="free", queue="standard", status="succeeded")
    models = {"fal": "fal-ai/flux/schnell", "replicate": "black-forest-labs/flux-schnell"}
    call = CostEntry.objects.create(
        job=job, provider=provider, model=models[provider], plan="free", outcome=outcome, latency_ms=latency_ms, cost_usd=Decimal("0.003")
    )
    CostEntry.objects.filter(pk=call.pk).update(created_at=timezone.now() - age)


def test_the_eta_is_the_median_recent_fal_latency_times_the_rounds_of_the_lanes_workers(client, providers, ada, bob, settings):
    """Median of fal's successful calls of the last hour (1.2, 2.6, 9.0 s -> 2.6 s); five jobs ahead
    in a lane of two workers: this one runs in the third round, done after 3 x 2.6 = 7.8 -> 8 s."""
    settings.GENERATION_QUEUE_CONCURRENCY = {"enterprise": 2, "premium": 4, "standard": 2}
    minute = timedelta(minutes=1)
    for latency in (1200, 9000, 2600):
        _ledger_call(bob, provider="fal", outcome="succeeded", latency_ms=latency, age=minute)
    _ledger_call(bob, provider="fal", outcome="failed", latency_ms=60000, age=minute)  # failures do not count
    _ledger_call(bob, provider="fal", outcome="succeeded", latency_ms=100, age=timedelta(hours=2))  # nor old calls
    _ledger_call(bob, provider="replicate", outcome="succeeded", latency_ms=500, age=minute)  # nor other providers
    for n in range(5):
        generation_job_create(user_id=bob.pk, prompt=f"someone ahead in line {n}")
    cache.clear()  # the latency is cached for half a minute
    client.force_login(ada)

    form = client.get(reverse("generation:index")).content.decode()

    assert "standard lane, position 6" in form
    assert "ready in about <strong>8 s</strong>" in form
    assert provider_latency_seconds(provider="fal") == pytest.approx(2.6)
    assert lane_estimate(queue="standard", chain=["fal:fal-ai/flux/schnell"], ahead=5).eta_seconds == 8
    assert lane_estimate(queue="standard", chain=["fal:fal-ai/flux/schnell"], ahead=1).eta_seconds == 3  # first round: 2.6 -> 3

    # The job, once asked for, stands in the same place.
    queued = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    page = client.get(_job_url(queued)).content.decode()
    assert "Position 6 in the standard lane · ready in about 8 s" in page


def test_with_too_few_recent_calls_the_eta_starts_from_the_configured_expectation(client, providers, ada, bob, settings):
    settings.GENERATION_QUEUE_CONCURRENCY = {"enterprise": 2, "premium": 4, "standard": 2}
    settings.GENERATION_EXPECTED_SECONDS = {**settings.GENERATION_EXPECTED_SECONDS, "fal": 5}
    for latency in (1200, 2600):  # two are too few to go by
        _ledger_call(bob, provider="fal", outcome="succeeded", latency_ms=latency, age=timedelta(minutes=1))
    for n in range(2):
        generation_job_create(user_id=bob.pk, prompt=f"someone ahead in line {n}")
    cache.clear()
    client.force_login(ada)

    form = client.get(reverse("generation:index")).content.decode()

    assert "standard lane, position 3" in form
    assert "ready in about <strong>10 s</strong>" in form  # 5 s x (2 // 2 + 1)
