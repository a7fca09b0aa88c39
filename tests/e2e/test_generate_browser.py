"""Generating an avatar in headless Chromium: sign in, ask, watch the bar fill live, see the image.

The real ASGI server and a real Celery worker process, on PostgreSQL, Redis and the S3 server.
The worker starts only after the job page is open, so the page shows the job waiting in line and
then every progress event as it arrives over the websocket.
"""

from pathlib import Path

import pytest

from avatarsite.accounts.services import user_create
from generation.models import GenerationJob
from generation.styles import LOCAL_STYLES, style_label
from tests.support.processes import celery_worker_args, project_env, running, subprocess_database_url

PASSWORD = "a-long-password-1"
IMAGE_LOADED = "(() => { const i = document.querySelector('[data-result] img'); return i.complete && i.naturalWidth > 0; })()"
# Collects every value the progress bar shows, so the test can tell live updates from a jump to the end.
RECORD_PROGRESS = """
window.__progress = [];
const bar = document.querySelector('[role=progressbar]');
new MutationObserver(() => window.__progress.push(Number(bar.getAttribute('aria-valuenow'))))
  .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_user_generates_an_avatar_and_watches_it_being_made(site, new_page, artifacts_dir):
    user_create(username="painter", email="painter@example.com", password=PASSWORD)
    env = project_env(DATABASE_URL=subprocess_database_url())
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{site}/accounts/login/?next=/generate/")
    page.fill("input[name=login]", "painter")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/generate/")
    estimate = page.locator("[data-estimate]").inner_text()
    page.locator(f"[data-style-option={LOCAL_STYLES[-1]}]").click()  # the picker: a sample of each style
    page.wait_for_function(f"document.querySelector('[data-style-label]').textContent === {style_label(LOCAL_STYLES[-1])!r}")
    chosen_line = page.locator("[data-estimate]").inner_text()
    page.fill("textarea[name=prompt]", "A smiling woman with curly red hair and round glasses, astronaut")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(f"{site}/generate/jobs/**")
    page.wait_for_function("document.querySelector('[data-job]').dataset.status === 'queued'")
    queued_text = page.locator("[data-eta]").inner_text()
    page.evaluate(RECORD_PROGRESS)
    page.screenshot(path=str(artifacts_dir / "generate-queued.png"))

    with running(celery_worker_args("standard"), env=env, log=artifacts_dir / "e2e-generate-worker.log"):
        page.wait_for_function("document.querySelector('[role=progressbar]').getAttribute('aria-valuenow') === '100'", timeout=60_000)
        page.wait_for_selector("[data-result] img.preview.circle", timeout=10_000)
        page.wait_for_function(IMAGE_LOADED, timeout=10_000)  # the presigned file, from the S3 server
        image_loaded = page.evaluate(IMAGE_LOADED)
        # The other sizes follow the first image; the download buttons grow when they arrive.
        page.wait_for_function("document.querySelectorAll('[data-result] .downloads a').length >= 10", timeout=30_000)
        downloads = page.locator("[data-result] .downloads a").all_inner_texts()
        # What was applied, drawn by job.js from the websocket message (the page loaded before the image).
        applied_live = page.locator("[data-result] [data-applied]").inner_text()
    progress = page.evaluate("window.__progress")
    with page.expect_download(timeout=10_000) as saving:  # saved, not opened: R2 is another origin
        page.locator("[data-result] .downloads a", has_text="1024 px · JPEG").click()
    saved_name, saved_bytes = saving.value.suggested_filename, Path(saving.value.path()).read_bytes()
    page.screenshot(path=str(artifacts_dir / "generate-done.png"), full_page=True)
    desktop_overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.reload()
    applied_reloaded = page.locator("[data-result] [data-applied]").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    phone_overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=str(artifacts_dir / "generate-done-phone.png"), full_page=True)

    job = GenerationJob.objects.get(user__username="painter")
    assert "standard lane, position 1" in estimate
    assert "Free" in chosen_line
    assert job.style == LOCAL_STYLES[-1]
    assert "Position 1 in the standard lane" in queued_text
    assert job.status == "succeeded"
    assert image_loaded
    assert progress[-1] == 100
    assert any(0 < value < 100 for value in progress), progress  # it moved live, not only at the end
    assert progress == sorted(progress)
    assert "1024 px · JPEG" in downloads
    assert "256 px · WEBP" in downloads
    assert saved_name == f"avatar-{str(job.id)[:8]}-1024px.jpg"
    assert saved_bytes.startswith(b"\xff\xd8")
    # The page says what drew it and what of the prompt it drew, the same live as on a reload.
    assert applied_live == applied_reloaded
    assert f"Drawn in {style_label(LOCAL_STYLES[-1])} by avatarsite/parts-v2" in applied_live
    assert "You asked for" not in applied_live  # drawn as asked
    assert "Drawn: woman, curly red hair, round glasses, smile · Not understood: astronaut" in applied_live
    assert (desktop_overflow, phone_overflow) == (0, 0)
