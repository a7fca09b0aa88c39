"""The gallery in headless Chromium: the grid paints, "Load more" appends in place, filters round-trip."""

import pytest
from playwright.sync_api import sync_playwright

from avatarsite.core.demo import demo_library_load
from gallery.models import Avatar
from tests.e2e.test_home_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.processes import free_port, project_env, running, subprocess_database_url, uvicorn_args

AVATARS = 60  # more than one page of 48


@pytest.fixture
def gallery_url(artifacts_dir):
    demo_library_load(count=AVATARS, size=128)
    port = free_port()
    with running(
        uvicorn_args(port), env=project_env(DATABASE_URL=subprocess_database_url()), port=port, log=artifacts_dir / "e2e-gallery.log"
    ):
        yield f"http://127.0.0.1:{port}/gallery/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_grid_paints_loads_more_in_place_and_filters(gallery_url, artifacts_dir):
    females = Avatar.objects.filter(gender="female").count()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(gallery_url)
        page.wait_for_load_state("networkidle")
        first_row_painted = page.evaluate(
            "[...document.querySelectorAll('.avatar-card img')].slice(0, 6).every(i => i.complete && i.naturalWidth > 0)"
        )
        first_page = page.locator(".avatar-card").count()
        page.screenshot(path=str(artifacts_dir / "gallery.png"))

        page.get_by_role("link", name="Load more").click()
        page.wait_for_function(f"document.querySelectorAll('.avatar-card').length === {AVATARS}")
        after_more, url_after_more = page.locator(".avatar-card").count(), page.url

        page.select_option("select[name=gender]", "female")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_load_state("networkidle")
        filtered, filtered_url = page.locator(".avatar-card").count(), page.url
        browser.close()

    assert first_row_painted
    assert first_page == 48
    assert after_more == AVATARS
    assert url_after_more == gallery_url  # appended in place, no navigation
    assert "gender=female" in filtered_url
    assert filtered == min(females, 48)
    assert 0 < females < AVATARS
