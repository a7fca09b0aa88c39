"""The gallery in headless Chromium: the grid paints, "Load more" appends in place, filters round-trip."""

from pathlib import Path

import pytest
import requests

from gallery.demo import demo_library_load
from gallery.models import Avatar

AVATARS = 60  # more than one page of 48


@pytest.fixture
def gallery_url(site):
    demo_library_load(count=AVATARS, size=128)
    return f"{site}/gallery/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_grid_paints_loads_more_in_place_and_filters(gallery_url, new_page, artifacts_dir):
    females = Avatar.objects.filter(gender="female").count()
    page = new_page(viewport={"width": 1280, "height": 900})
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

    assert first_row_painted
    assert first_page == 48
    assert after_more == AVATARS
    assert url_after_more == gallery_url  # appended in place, no navigation
    assert "gender=female" in filtered_url
    assert filtered == min(females, 48)
    assert 0 < females < AVATARS


PAGES = {
    "home": "/",
    "gallery": "/gallery/",
    "search": "/gallery/?q=red+hair",
    "filters": "/gallery/?gender=female&age_group=adult",
    "nothing-found": "/gallery/?age_group=infant",
}
TOO_SMALL = """[...document.querySelectorAll('.filters select, .filters input, .filters button, .downloads a, .back-link')]
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.height < 44 || r.width < 44); })
    .map(e => e.outerHTML.slice(0, 80))"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")])
def test_every_gallery_page_fits_the_screen_and_download_saves_a_named_file(gallery_url, new_page, artifacts_dir, viewport, name):
    site = gallery_url.removesuffix("/gallery/")
    avatar = Avatar.objects.order_by("pk").first()
    pages = {**PAGES, "avatar": f"/gallery/{avatar.pk}/"}
    cdn_file = next(r.url for r in avatar.renditions if (r.size, r.format) == (128, "jpeg"))
    overflow, small, errors = {}, {}, []
    page = new_page(viewport=viewport, accept_downloads=True)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    for label, path in pages.items():
        page.goto(site + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(artifacts_dir / f"gallery-{label}-{name}.png"), full_page=True)
        overflow[label] = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        small[label] = page.evaluate(TOO_SMALL) if name == "phone" else []
    with page.expect_download(timeout=10_000) as saving:  # saved, not opened: the file is on another origin
        page.get_by_role("link", name="128 px · JPEG").click()
    saved_name, saved_bytes = saving.value.suggested_filename, Path(saving.value.path()).read_bytes()

    assert overflow == dict.fromkeys(pages, 0)  # no sideways scroll
    assert small == {label: [] for label in pages}  # 44 px touch targets on phones
    assert errors == []
    assert saved_name == f"avatar-{avatar.pk}-128px.jpg"
    assert saved_bytes == requests.get(cdn_file, timeout=10).content
    assert saved_bytes.startswith(b"\xff\xd8")
    avatar.refresh_from_db()
    assert avatar.download_count == 1
