"""The home page in a real headless Chromium, served by the real ASGI server."""

import pytest

NAV_ITEMS = {"gallery": "/gallery/", "generate": "/generate/", "pricing": "/pricing/", "api": "/api/"}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), [({"width": 1280, "height": 900}, "desktop"), ({"width": 390, "height": 844}, "phone")])
def test_home_page_renders_the_navigation(site, new_page, artifacts_dir, viewport, name):
    external_requests = []
    page = new_page(viewport=viewport)
    page.on(
        "request",
        lambda request: None if request.url.startswith(site) or request.url.startswith("data:") else external_requests.append(request.url),
    )
    response = page.goto(site + "/")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts_dir / f"home-{name}.png"), full_page=True)

    menu_button = page.locator("label[for=nav-toggle]")
    collapsed_on_this_screen = menu_button.is_visible()
    if collapsed_on_this_screen:  # phones get a menu button that opens the navigation
        menu_button.click()
        page.screenshot(path=str(artifacts_dir / f"home-{name}-menu.png"))
    nav = page.get_by_role("navigation", name="Main")
    hrefs = {key: nav.locator(f"[data-nav={key}]").get_attribute("href") for key in NAV_ITEMS}
    sign_in = nav.locator("[data-nav=login]").get_attribute("href")
    stylesheet_applied = page.evaluate(
        "[...document.styleSheets].some(s => s.href && s.href.endsWith('/static/css/site.css') && s.cssRules.length > 0)"
    )

    assert response.status == 200
    assert collapsed_on_this_screen == (viewport["width"] < 760)
    assert hrefs == NAV_ITEMS
    assert sign_in == "/accounts/login/"
    assert stylesheet_applied
    assert external_requests == []  # everything the page needs is served by the site itself
