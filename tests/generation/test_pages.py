"""The generate page, a job's page, its polling endpoint (owner only) and cancel."""

import io
import re

import pytest
import requests
from django.core.cache import cache
from django.urls import reverse

from avatarsite.accounts.services import user_create
from generation.models import GenerationJob
from generation.providers.local import LocalProvider
from generation.services import StyleUnavailableError, generation_job_create, generation_job_run
from generation.styles import LOCAL_CHAIN, LOCAL_STYLES, style_label
from tests.billing.factories import SubscriptionFactory


def test_submitting_the_form_creates_a_job_and_opens_its_live_page(client, ada):
    client.force_login(ada)
    response = client.post(reverse("generation:index"), {"prompt": "A calm man with a beard", "style": "pastel"})

    job = GenerationJob.objects.get(user=ada)
    assert response.status_code == 302
    assert response["Location"] == reverse("generation:job", args=[job.id])
    page = client.get(response["Location"]).content.decode()
    assert 'role="progressbar"' in page
    assert f"/ws/jobs/{job.id}/" in page


def test_generate_again_asks_for_a_new_seed_while_the_same_form_again_is_answered_from_the_result(client, ada):
    client.force_login(ada)
    form = {"prompt": "A calm man with a beard", "style": "pastel"}
    first = GenerationJob.objects.get(pk=client.post(reverse("generation:index"), form)["Location"].split("/")[-2])
    generation_job_run(job_id=str(first.id))

    same = client.post(reverse("generation:index"), form)
    page = client.get(reverse("generation:job", args=[first.id])).content.decode()
    again_form = re.search(r"<form[^>]*data-again.*?</form>", page, re.S).group(0)
    posted = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', again_form))
    again = client.post(reverse("generation:index"), posted)

    reused = GenerationJob.objects.get(pk=same["Location"].split("/")[-2])
    assert (reused.reused_from_id, reused.seed) == (first.pk, first.seed)
    assert "cost nothing" in client.get(same["Location"]).content.decode()
    varied = GenerationJob.objects.get(pk=again["Location"].split("/")[-2])
    assert (varied.prompt, varied.style, varied.reused_from_id) == (first.prompt, "pastel", None)
    assert varied.seed == int(posted["seed"]) != first.seed


def test_the_status_endpoint_gives_the_state_with_image_urls_to_the_owner_only(client, ada, bob):
    job = generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="comic")
    generation_job_run(job_id=str(job.id))

    client.force_login(ada)
    state = client.get(reverse("generation:job_status", args=[job.id])).json()
    assert (state["status"], state["progress"]) == ("succeeded", 100)
    assert state["images"][0]["variants"]
    provenance = state["images"][0]["provenance"]
    assert (provenance["provider"], provenance["model"], provenance["model_version"]) == ("local", "avatarsite/parts-v2", "2")

    client.force_login(bob)
    assert client.get(reverse("generation:job_status", args=[job.id])).status_code == 404
    assert client.get(reverse("generation:job", args=[job.id])).status_code == 404
    assert client.post(reverse("generation:job_cancel", args=[job.id])).status_code == 404


def _finished_local_job(user) -> GenerationJob:
    job = generation_job_create(user_id=user.pk, prompt="A calm man with a beard", style="comic")
    return generation_job_run(job_id=str(job.id))


def test_a_result_downloads_from_r2_as_a_named_attachment_for_its_owner_only(client, ada, bob):
    job = _finished_local_job(ada)
    client.force_login(ada)
    variant = client.get(reverse("generation:job_status", args=[job.id])).json()["images"][0]["variants"][0]
    assert variant["download_url"] in client.get(reverse("generation:job", args=[job.id])).content.decode()

    response = client.get(variant["download_url"])
    assert response.status_code == 302  # to a presigned URL that tells the browser to save the file
    file = requests.get(response["Location"], timeout=10)
    assert file.status_code == 200
    assert file.headers["Content-Disposition"] == f'attachment; filename="avatar-{str(job.id)[:8]}-{variant["size"]}px.jpg"'
    assert file.content == requests.get(variant["url"], timeout=10).content
    assert file.content.startswith(b"\xff\xd8")

    assert client.get(reverse("generation:image_download", args=[job.id, 0, 123, "jpeg"])).status_code == 404
    assert client.get(reverse("generation:image_download", args=[job.id, 1, variant["size"], "jpeg"])).status_code == 404
    client.force_login(bob)
    assert client.get(variant["download_url"]).status_code == 404


def test_a_result_in_local_files_downloads_as_a_named_attachment(client, ada, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    job = _finished_local_job(ada)
    client.force_login(ada)
    variant = client.get(reverse("generation:job_status", args=[job.id])).json()["images"][0]["variants"][0]

    response = client.get(variant["download_url"])
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="avatar-{str(job.id)[:8]}-{variant["size"]}px.jpg"'
    assert response["Content-Type"] == "image/jpeg"
    assert response.content.startswith(b"\xff\xd8")


def test_form_errors_and_a_spent_quota_are_explained(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    client.force_login(ada)
    refused = client.post(reverse("generation:index"), {"prompt": "a naked person", "style": "photo"})
    assert "content we do not generate" in refused.content.decode()

    for n in range(5):
        generation_job_create(user_id=ada.pk, prompt=f"portrait {n}")
    spent = client.post(reverse("generation:index"), {"prompt": "one more portrait", "style": "photo"})
    assert spent.status_code == 429
    assert "resets at 00:00 UTC" in spent.content.decode()
    assert "Upgrade" in spent.content.decode()


def test_cancel_stops_a_queued_job_and_returns_its_quota(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    job = generation_job_create(user_id=ada.pk, prompt="portrait")
    client.force_login(ada)
    client.post(reverse("generation:job_cancel", args=[job.id]))

    job.refresh_from_db()
    assert (job.status, job.quota_refunded) == ("canceled", True)
    assert generation_job_run(job_id=str(job.id)).status == "canceled"  # a late task does nothing


def test_the_form_shows_the_cost_lane_position_and_eta_before_anything_is_submitted(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    bob = user_create(username="bob2", email="bob2@example.com", password="a-long-password-1")
    generation_job_create(user_id=bob.pk, prompt="someone ahead in line")
    client.force_login(ada)

    page = client.get(reverse("generation:index")).content.decode()

    assert _checked_style(page) == "photo"  # AI photos can be made here: the default
    assert "Costs 1 generation from your quota (5 left today)" in page
    assert "standard lane, position 2" in page  # one free job is waiting ahead
    assert "ready in about" in page
    assert "5</strong> of 5 AI generations left this day" in page


def _checked_style(page: str) -> str:
    return re.search(r'<input type="radio" name="style" value="(\w+)"[^>]*\schecked', page).group(1)


def test_without_an_ai_service_photos_are_shown_unavailable_with_the_reason_and_never_preselected(client, ada):
    client.force_login(ada)

    page = client.get(reverse("generation:index")).content.decode()

    photo = re.search(r'<label class="style-option is-unavailable" data-style-option="photo">.*?</label>', page, re.S).group(0)
    assert re.search(r"<input[^>]*value=\"photo\"[^>]*\sdisabled", photo)
    assert "Unavailable: AI photos need an AI service; this site has none set up." in photo
    assert _checked_style(page) == LOCAL_STYLES[0]  # the first instant style, never photo
    assert "Free: drawn at once by our own generator" in page


def test_a_posted_photo_request_without_an_ai_service_is_refused_with_the_reason_and_nothing_is_drawn(client, ada):
    """Before, the local generator drew a cartoon under the name "photo"."""
    client.force_login(ada)

    refused = client.post(reverse("generation:index"), {"prompt": "A calm man with a beard", "style": "photo"})

    assert refused.status_code == 200
    assert "AI photos need an AI service; this site has none set up. Choose an instant style instead." in refused.content.decode()
    assert _checked_style(refused.content.decode()) == LOCAL_STYLES[0]
    assert not GenerationJob.objects.exists()


def test_the_service_refuses_an_unavailable_style_and_a_request_naming_none_gets_one_that_can_be_made(ada):
    with pytest.raises(StyleUnavailableError, match="AI photos need an AI service; this site has none set up"):
        generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="photo")

    job = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A calm man with a beard").id))

    assert (job.style, job.provider_chain, job.quota_units) == (LOCAL_STYLES[0], list(LOCAL_CHAIN), 0)
    assert job.images.get().provider == "local"


def test_each_styles_label_and_the_model_that_made_it_are_on_the_job_history_and_status(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    drawn = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A calm man", style=LOCAL_STYLES[0]).id))
    photo = generation_job_run(job_id=str(generation_job_create(user_id=ada.pk, prompt="A calm woman", style="photo").id))
    client.force_login(ada)

    drawn_state = client.get(reverse("generation:job_status", args=[drawn.id])).json()
    photo_state = client.get(reverse("generation:job_status", args=[photo.id])).json()
    history = client.get(reverse("generation:history")).content.decode()

    label = style_label(LOCAL_STYLES[0])
    assert (drawn_state["style"], drawn_state["style_label"]) == (LOCAL_STYLES[0], label)
    assert (drawn_state["provider"], drawn_state["model"]) == ("local", LocalProvider.model)
    assert (photo_state["style"], photo_state["style_label"], photo_state["provider"]) == ("photo", "AI photo", "fal")
    assert f'{label}<br><span class="muted">local · {LocalProvider.model}</span>' in history
    assert f'AI photo<br><span class="muted">fal · {photo_state["model"]}</span>' in history


def test_the_estimate_endpoint_follows_style_size_and_count(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "replicate": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "replicate"}},
    }
    SubscriptionFactory(user=ada, plan__slug="premium")
    client.force_login(ada)
    url = reverse("generation:estimate")

    photo = client.get(url, {"style": "photo", "size": 1024, "num_images": 3}).json()
    instant = client.get(url, {"style": LOCAL_STYLES[0], "size": 2048, "num_images": 2}).json()
    one = client.get(url, {"style": "photo", "size": 1024, "num_images": 1}).json()

    assert (photo["available"], photo["units"], photo["lane_text"]) == (True, 3, "priority lane, position 1")
    assert photo["cost_text"] == "Costs 3 generations from your quota (50 left this hour)"
    assert one["cost_text"] == "Costs 1 generation from your quota (50 left this hour)"
    assert photo["eta_text"].startswith("ready in about")
    assert (instant["units"], instant["instant"]) == (0, True)
    assert instant["cost_text"].startswith("Free")
    bad = client.get(url, {"style": "oil-painting", "size": 4096, "num_images": 9})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {"style", "size", "num_images"}
    client.logout()
    assert client.get(url, {"style": "photo", "size": 1024, "num_images": 1}).status_code == 401


def test_the_estimate_endpoint_names_the_reason_for_an_unavailable_style_and_a_short_quota(client, ada, settings):
    client.force_login(ada)
    url = reverse("generation:estimate")

    unavailable = client.get(url, {"style": "photo", "size": 1024, "num_images": 1}).json()

    assert (unavailable["available"], unavailable["lane"], unavailable["eta_seconds"]) == (False, None, None)
    assert unavailable["cost_text"] == "AI photos need an AI service; this site has none set up."

    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    for n in range(5):
        generation_job_create(user_id=ada.pk, prompt=f"portrait {n}")
    short = client.get(url, {"style": "photo", "size": 1024, "num_images": 1}).json()
    assert (short["enough_quota"], short["cost_text"]) == (False, "Needs 1 generation; you have 0 left today")


def test_style_previews_are_drawn_by_the_local_generator_once_and_then_served_from_the_cache(client):
    from PIL import Image

    url = reverse("generation:style_preview", args=[LOCAL_STYLES[0]])
    first = client.get(url)
    with Image.open(io.BytesIO(first.content)) as image:
        assert (image.format, image.size) == ("WEBP", (192, 192))
    assert first["Cache-Control"] == "public, max-age=86400"
    assert cache.get(f"generation:style-preview:{LocalProvider.model}:{LOCAL_STYLES[0]}:192") == first.content
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    others = {client.get(reverse("generation:style_preview", args=[style])).content for style in LOCAL_STYLES}
    assert len(others) == len(LOCAL_STYLES)  # one picture per style
    assert client.get(reverse("generation:style_preview", args=["photo"])).status_code == 404


def test_the_quota_warning_appears_at_80_percent(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    client.force_login(ada)
    for n in range(3):
        generation_job_create(user_id=ada.pk, prompt=f"portrait {n}")
    assert "data-quota-warning" not in client.get(reverse("generation:index")).content.decode()
    generation_job_create(user_id=ada.pk, prompt="portrait 4")
    assert "data-quota-warning" in client.get(reverse("generation:index")).content.decode()


def test_a_failed_job_explains_itself_and_offers_premade_avatars_instead(client, ada, settings):
    from gallery.demo import demo_library_load
    from generation.services import generation_job_fail

    demo_library_load(count=4, size=128)
    job = generation_job_create(user_id=ada.pk, prompt="a smiling woman with red hair", style="flat")
    generation_job_fail(job=job, kind="transient", message="Every image service failed this time.")
    client.force_login(ada)

    state = client.get(reverse("generation:job_status", args=[job.id])).json()
    page = client.get(reverse("generation:job", args=[job.id])).content.decode()

    assert state["status"] == "failed"
    assert "Try again" in state["suggestions"][0]
    assert len(state["similar"]) == 4
    assert state["similar"][0]["url"].startswith("/gallery/")
    assert "Premade avatars you may like instead" in page
    assert page.count('class="avatar-card"') == 4


def test_my_avatars_lists_the_users_jobs_with_their_thumbnails_and_nobody_elses(client, ada, bob):
    mine = generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="comic")
    generation_job_run(job_id=str(mine.id))
    generation_job_create(user_id=bob.pk, prompt="Bob's secret portrait", style="comic")
    client.force_login(ada)

    page = client.get(reverse("generation:history")).content.decode()

    assert f'data-history-job="{mine.id}"' in page
    assert "A calm man with a beard" in page
    assert "secret" not in page
    assert 'class="thumb"' in page
    assert "X-Amz-Signature" in page  # private files: signed URLs


def test_the_queued_job_page_says_where_it_stands(client, ada):
    job = generation_job_create(user_id=ada.pk, prompt="A calm man with a beard", style="pastel")
    client.force_login(ada)

    state = client.get(reverse("generation:job_status", args=[job.id])).json()

    assert (state["status"], state["queue_position"], state["lane"]) == ("queued", 1, "standard lane")
    assert state["eta_seconds"] >= 1
    assert state["message"] == "Waiting in the standard lane"


def test_premium_users_may_ask_for_more_images_and_larger_sizes_and_the_form_holds_them_to_their_plan(client, ada, settings):
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "replicate": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "replicate"}},
    }
    client.force_login(ada)
    free_form = client.get(reverse("generation:index")).content.decode()
    assert 'value="2048"' not in free_form
    assert 'type="hidden" name="num_images"' in free_form

    SubscriptionFactory(user=ada, plan__slug="premium")
    premium_form = client.get(reverse("generation:index")).content.decode()
    assert 'value="2048"' in premium_form
    assert '<option value="4">4</option>' in premium_form
    client.post(reverse("generation:index"), {"prompt": "A calm man with a beard", "style": "photo", "size": 2048, "num_images": 3})
    job = GenerationJob.objects.get(user=ada)
    assert (job.size, job.num_images, job.quota_units, job.queue) == (2048, 3, 3, "premium")

    refused = client.post(reverse("generation:index"), {"prompt": "Another one", "style": "photo", "size": 4096, "num_images": 9})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()


SITE_PAGES = {"home": "home", "signup": "account_signup", "pricing": "billing:pricing"}


@pytest.mark.django_db
def test_pages_promise_ai_avatars_only_where_an_ai_service_is_set_up(client, settings):
    """Without an AI service the home, sign-up and pricing pages say what a user gets here (the
    instant styles) and that AI photos are not available; with one, they offer the plan's AI avatars."""
    without = {name: client.get(reverse(url)).content.decode() for name, url in SITE_PAGES.items()}
    settings.GENERATION_PROVIDERS = {
        **settings.GENERATION_PROVIDERS,
        "fal": {"BACKEND": "tests.generation.scripted.ScriptedProvider", "OPTIONS": {"name": "fal"}},
    }
    with_ai = {name: client.get(reverse(url)).content.decode() for name, url in SITE_PAGES.items()}

    assert "AI photos need an AI service, which this site has not set up" in without["home"]
    assert "Sign up and get five AI avatars a day" not in without["home"]
    assert f"drawn at once in {len(LOCAL_STYLES)} illustrated styles" in without["signup"]
    assert "Free: five custom AI avatars a day" not in without["signup"]
    assert "data-no-ai" in without["pricing"]
    assert "Sign up and get five AI avatars a day" in with_ai["home"]
    assert "Free: five custom AI avatars a day" in with_ai["signup"]
    assert all("has not set up" not in page and "data-no-ai" not in page for page in with_ai.values())
