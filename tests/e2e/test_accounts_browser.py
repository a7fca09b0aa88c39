"""Signing up and in with headless Chromium at desktop and phone size: the site's look on allauth's
pages, no sideways scroll, 44 px touch targets on phones, and the welcome page after sign-up."""

import pytest
from playwright.sync_api import sync_playwright

from avatarsite.accounts.services import user_create
from tests.e2e.test_home_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.processes import free_port, project_env, running, subprocess_database_url, uvicorn_args

PASSWORD = "a-long-password-1"
VIEWPORTS = [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")]
# Controls in the page's main part smaller than a finger (links inside sentences are exempt; a radio
# or checkbox is reached through its label).
SMALL_TARGETS = """
() => [...document.querySelectorAll('main input:not([type=hidden]), main button, main a.button, main .security-links a')]
  .filter(e => e.offsetParent !== null)
  .map(e => {
    const target = ['radio', 'checkbox'].includes(e.type) ? document.querySelector(`label[for="${e.id}"]`) || e : e;
    return [e.outerHTML.slice(0, 80), target.getBoundingClientRect().height];
  })
  .filter(([, height]) => height < 44)
"""
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


def _check(page, *, phone: bool) -> dict:
    return {
        "sideways_px": page.evaluate(SIDEWAYS),
        "small_targets": page.evaluate(SMALL_TARGETS) if phone else [],
        "site_css": page.evaluate("[...document.styleSheets].some(s => s.href && s.href.endsWith('/static/css/site.css'))"),
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_sign_up_lands_on_the_welcome_page_and_sign_in_works_in_the_sites_look(artifacts_dir, viewport, name):
    user_create(username=f"returning-{name}", email=f"returning-{name}@example.com", password=PASSWORD)
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    console_errors: list[str] = []
    checks = {}
    with (
        running(
            uvicorn_args(port),
            env=project_env(DATABASE_URL=subprocess_database_url()),
            port=port,
            log=artifacts_dir / f"e2e-accounts-{name}.log",
        ),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=viewport)
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

        page.goto(f"{site}/accounts/signup/")
        page.fill("input[name=username]", f"newcomer-{name}")
        page.fill("input[name=email]", f"newcomer-{name}@example.com")
        page.fill("input[name=password1]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        checks["signup"] = _check(page, phone=name == "phone")
        page.screenshot(path=str(artifacts_dir / f"accounts-signup-{name}.png"), full_page=True)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(f"{site}/accounts/welcome/")
        steps = page.locator("[data-step]").evaluate_all("nodes => nodes.map(n => n.dataset.step)")
        step_links = page.locator("[data-step] a.button").evaluate_all("nodes => nodes.map(n => n.getAttribute('href'))")
        checks["welcome"] = _check(page, phone=name == "phone")
        page.screenshot(path=str(artifacts_dir / f"accounts-welcome-{name}.png"), full_page=True)

        page.goto(f"{site}/accounts/")
        page.locator("[data-security]").scroll_into_view_if_needed()
        checks["account"] = _check(page, phone=name == "phone")
        page.screenshot(path=str(artifacts_dir / f"accounts-account-{name}.png"), full_page=True)
        page.goto(f"{site}/accounts/logout/")
        page.locator("main").get_by_role("button", name="Sign Out").click()

        page.goto(f"{site}/accounts/login/?next=/generate/")
        checks["login"] = _check(page, phone=name == "phone")
        page.screenshot(path=str(artifacts_dir / f"accounts-login-{name}.png"), full_page=True)
        page.fill("input[name=login]", f"returning-{name}")
        page.fill("input[name=password]", "not-the-password")
        page.get_by_role("button", name="Sign in").click()
        error_shown = page.locator(".errorlist").inner_text()
        page.screenshot(path=str(artifacts_dir / f"accounts-login-error-{name}.png"), full_page=True)
        page.fill("input[name=login]", f"returning-{name}@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{site}/generate/")
        browser.close()

    assert steps == ["generate", "gallery", "api"]
    assert step_links[:2] == ["/generate/", "/gallery/"]
    assert "not correct" in error_shown
    for page_name in ("signup", "welcome", "account", "login"):
        assert checks[page_name]["sideways_px"] <= 0, (page_name, checks[page_name])
        assert checks[page_name]["small_targets"] == [], (page_name, checks[page_name])
        assert checks[page_name]["site_css"], page_name
    assert console_errors == []


MANAGE_PAGES = {
    "email": "/accounts/email/",
    "password-change": "/accounts/password/change/",
    "two-factor": "/accounts/2fa/",
    "password-reset": "/accounts/password/reset/",
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_the_security_pages_are_in_the_sites_look(artifacts_dir, viewport, name):
    user_create(username=f"careful-{name}", email=f"careful-{name}@example.com", password=PASSWORD)
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    console_errors: list[str] = []
    checks = {}
    with (
        running(
            uvicorn_args(port),
            env=project_env(DATABASE_URL=subprocess_database_url()),
            port=port,
            log=artifacts_dir / f"e2e-security-{name}.log",
        ),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=viewport)
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=login]", f"careful-{name}")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{site}/")
        for page_name, path in MANAGE_PAGES.items():
            page.goto(site + path)
            checks[page_name] = _check(page, phone=name == "phone")
            page.screenshot(path=str(artifacts_dir / f"accounts-{page_name}-{name}.png"), full_page=True)
        # Two-factor set-up from the Security section's link: the password again, then the QR code.
        page.goto(f"{site}/accounts/")
        page.locator("[data-two-factor-link]").click()
        page.get_by_role("link", name="Activate").click()
        page.wait_for_url(f"{site}/accounts/reauthenticate/**")
        checks["reauthenticate"] = _check(page, phone=name == "phone")
        page.fill("input[name=password]", PASSWORD)
        page.locator("main").get_by_role("button", name="Confirm").click()
        page.wait_for_url(f"{site}/accounts/2fa/totp/activate/")
        qr_width = page.locator("img.totp-qr").evaluate("img => img.getBoundingClientRect().width")
        checks["totp-activate"] = _check(page, phone=name == "phone")
        page.screenshot(path=str(artifacts_dir / f"accounts-totp-activate-{name}.png"), full_page=True)
        browser.close()

    assert qr_width >= 150
    for page_name, seen in checks.items():
        assert seen["sideways_px"] <= 0, (page_name, seen)
        assert seen["small_targets"] == [], (page_name, seen)
        assert seen["site_css"], page_name
    assert console_errors == []
