"""A job's page while it waits (similar premade avatars and the user's own earlier results, nobody
else's), its "How it went" list of provider calls, and the ETA the form and the page show."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gallery.models import Avatar, Source
from generation.estimates import lane_estimate
from generation.models import CostEntry, GenerationJob
from generation.services import generation_job_create, generation_job_fail, generation_job_run
from generation.styles import LOCAL_STYLES
from tests.gallery.factories import AvatarFactory

PROMPT = "A smiling pirate with a red beard"


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
    sailor = AvatarFactory(title="Sailor with a beard", tags=("sailor", "beard"), download_count=1, seed=1)
    pirate = AvatarFactory(title="Pirate captain", tags=("pirate", "captain"), download_count=0, seed=2)
    unrelated = [
        AvatarFactory(title=title, tags=(title.split()[0].lower(),), download_count=downloads, seed=seed)
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
    generation_job_fail(job=own_failed, kind="transient", message="failed")
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
    face = AvatarFactory(title="Pirate face", tags=("pirate", "beard"), download_count=90, seed=1, source__slug="generated_photos")
    other = AvatarFactory(title="Sailor with a beard", tags=("sailor", "beard"), download_count=1, seed=2)
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
    providers.say("fal", "transient", "transient")
    fell_back = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt=PROMPT).id))
    _set_latencies(fell_back, 1500, 1600, 2300)
    providers.say("fal", "refused")
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
CHAINS = {"fal": ["fal:fal-ai/flux/schnell"], "local": ["local:avatarsite/parts-v2"]}


def _finished(owner, *, provider: str = "fal", created, started, finished, size: int = 1024, status: str = "succeeded") -> GenerationJob:
    """A job of the standard lane that ran with these stamps (the ETA measures the lane's own jobs)."""
    job = GenerationJob.objects.create(
        user=owner, prompt="history", plan="free", queue="standard", status=status, provider_chain=CHAINS[provider], size=size
    )
    GenerationJob.objects.filter(pk=job.pk).update(created_at=created, started_at=started, finished_at=finished)
    return job


def _seconds(moment, seconds: float):
    return moment + timedelta(seconds=seconds)


def test_alone_in_the_lane_the_eta_is_the_providers_recent_median_from_acceptance_to_result(client, providers, ada, bob):
    """fal's succeeded jobs of the last hour that found a worker free took 1.5, 2.6 and 9.0 s from
    acceptance to result: a request to an idle lane is ready in about 2.6 -> 3 s. A failed job, an
    hour-old one and another provider's do not count."""
    ago = timezone.now() - timedelta(minutes=5)
    for total in (1.5, 9.0, 2.6):
        _finished(bob, created=ago, started=_seconds(ago, 0.05), finished=_seconds(ago, total))
    _finished(bob, created=ago, started=ago, finished=_seconds(ago, 60), status="failed")
    old = timezone.now() - timedelta(hours=2)
    _finished(bob, created=old, started=old, finished=_seconds(old, 0.1))
    _finished(bob, provider="local", created=ago, started=ago, finished=_seconds(ago, 0.2))
    client.force_login(ada)

    form = client.get(reverse("generation:index")).content.decode()

    assert "standard lane, position 1" in form
    assert "ready in about 3 s" in form
    estimate = lane_estimate(queue="standard", chain=CHAINS["fal"])
    assert estimate.eta == pytest.approx(2.6)


def _busy_lane_history(owner, *, pace: float, start, provider: str = "fal") -> None:
    """Six jobs accepted at once by a lane of two workers: after the first two, each started as the
    one before it ended, every `pace` seconds, while the next waited."""
    starts = [0.0, 0.0] + [2 + pace * n + 0.01 for n in range(4)]
    for n, begun in enumerate(starts):
        _finished(owner, provider=provider, created=start, started=_seconds(start, begun), finished=_seconds(start, 2 + pace * n))


def test_behind_others_each_job_waiting_or_running_ahead_adds_the_lanes_measured_pace(client, providers, ada, bob):
    """The issue's case: the page said 1 s at position 4 and the job took 3.75 s. Now the lane's pace
    while it was busy (a job ended every 1.5 s while another waited) counts every job before this
    one, running or waiting: two waiting and one running, so this one ends after 4 x 1.5 = 6 s."""
    _busy_lane_history(bob, pace=1.5, start=timezone.now() - timedelta(minutes=10))
    running = generation_job_create(user_id=bob.pk, prompt="someone being drawn now")
    GenerationJob.objects.filter(pk=running.pk).update(status="running", started_at=timezone.now())
    for n in range(2):
        generation_job_create(user_id=bob.pk, prompt=f"someone ahead in line {n}")
    client.force_login(ada)

    form = client.get(reverse("generation:index")).content.decode()

    assert "standard lane, position 3" in form
    assert "ready in about 6 s" in form
    # Once asked for, it stands in the same place: its page says the same.
    queued = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    state = client.get(reverse("generation:job_status", args=[queued.id])).json()
    assert (state["queue_position"], state["eta_seconds"], state["eta"]) == (3, 6, 6.0)


def test_each_job_ahead_counts_at_its_own_providers_pace(client, providers, ada, bob):
    """Instant drawings kept the lane busy at one every 0.5 s, fal photos at one every 2 s: behind two
    waiting drawings and a running photo, a photo is ready after 0.5 + 0.5 + 2 + 2 = 5 s."""
    _busy_lane_history(bob, pace=0.5, start=timezone.now() - timedelta(minutes=20), provider="local")
    _busy_lane_history(bob, pace=2.0, start=timezone.now() - timedelta(minutes=10))
    photo = generation_job_create(user_id=bob.pk, prompt="a photo being made now")
    GenerationJob.objects.filter(pk=photo.pk).update(status="running", started_at=timezone.now())
    for n in range(2):
        generation_job_create(user_id=bob.pk, prompt=f"a drawing ahead in line {n}", style=LOCAL_STYLES[0])
    client.force_login(ada)

    form = client.get(reverse("generation:index")).content.decode()

    assert "standard lane, position 3" in form
    assert "ready in about 5 s" in form


def test_before_the_lane_has_been_busy_the_lanes_workers_share_the_expected_time(client, providers, ada, bob, settings):
    """No measured pace yet: the configured expectation (5 s) shared by the lane's two workers. Three
    waiting ahead: this one ends after max(5, 4 x 5 / 2) = 10 s."""
    settings.GENERATION_QUEUE_CONCURRENCY = {"enterprise": 2, "premium": 4, "standard": 2}
    settings.GENERATION_EXPECTED_SECONDS = {**settings.GENERATION_EXPECTED_SECONDS, "fal": 5}
    for n in range(3):
        generation_job_create(user_id=bob.pk, prompt=f"someone ahead in line {n}")
    client.force_login(ada)

    form = client.get(reverse("generation:index")).content.decode()

    assert "standard lane, position 4" in form
    assert "ready in about 10 s" in form


def test_a_running_jobs_eta_is_what_is_left_of_its_usual_run(client, providers, ada, bob):
    ago = timezone.now() - timedelta(minutes=5)
    for _ in range(3):
        _finished(bob, created=ago, started=ago, finished=_seconds(ago, 4))
    job = generation_job_create(user_id=ada.pk, prompt=PROMPT)
    GenerationJob.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now() - timedelta(seconds=1))
    client.force_login(ada)

    state = client.get(reverse("generation:job_status", args=[job.id])).json()

    assert state["queue_position"] is None
    assert state["eta"] == pytest.approx(3.0, abs=0.3)


def test_the_local_generators_eta_grows_with_the_pixels_it_draws(client, ada, bob):
    """Measured at 1024 px (0.5 s each), a 2048 px drawing has four times the pixels: about 2 s."""
    ago = timezone.now() - timedelta(minutes=5)
    for _ in range(3):
        _finished(bob, provider="local", created=ago, started=ago, finished=_seconds(ago, 0.5))
    client.force_login(ada)

    small = lane_estimate(queue="standard", chain=CHAINS["local"], size=512)
    large = lane_estimate(queue="standard", chain=CHAINS["local"], size=2048)

    assert (small.eta, large.eta) == (pytest.approx(0.125), pytest.approx(2.0))
    assert (small.eta_seconds, large.eta_seconds) == (1, 2)
