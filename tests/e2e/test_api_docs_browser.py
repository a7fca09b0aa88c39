"""The API docs page in headless Chromium: Swagger UI renders the guide and every operation from the
schema, with nothing fetched from another site, and its "Try it out" works with a key."""

import pytest

SUMMARIES = ["List premade avatars", "One premade avatar", "Your jobs, newest first", "Generate avatars", "One of your jobs",
             "Cancel a queued or running job", "Your plan, quotas and this month's use"]  # fmt: skip


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_render_offline_with_every_operation(site, new_page, artifacts_dir):
    external_requests = []
    page = new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: None if r.url.startswith((site, "data:", "blob:")) else external_requests.append(r.url))
    response = page.goto(f"{site}/api/docs/")
    page.locator(".opblock-summary-description").first.wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts_dir / "api-docs.png"), full_page=True)
    operations = page.locator(".opblock-summary-description").all_inner_texts()
    title = page.locator(".info .title").first.inner_text()
    snippet_shown = page.get_by_text("def verify_webhook").count() > 0

    assert response.status == 200
    assert title.startswith("avatarsite API")
    for summary in SUMMARIES:
        assert summary in operations, summary
    assert snippet_shown
    assert external_requests == []
