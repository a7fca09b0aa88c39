"""Signing up and in with headless Chromium at desktop and phone size: the site's look on allauth's
pages, no sideways scroll, 44 px touch targets on phones, and the welcome page after sign-up."""

import pytest

from avatarsite.accounts.services import user_create

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
# Both social sign-in providers set up: a server of its own, shared by the tests that ask for it.
SOCIAL_SIGN_IN = {
    "GITHUB_OAUTH_CLIENT_ID": "gh-client-123",
    "GITHUB_OAUTH_CLIENT_SECRET": "gh-secret",
    "GOOGLE_OAUTH_CLIENT_ID": "goog-client-456",
    "GOOGLE_OAUTH_CLIENT_SECRET": "goog-secret",
}


def _shot(page, path) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page repeats the sticky header
    page.screenshot(path=str(path), full_page=True)


def _check(page, *, phone: bool) -> dict:
    return {
        "sideways_px": page.evaluate(SIDEWAYS),
        "small_targets": page.evaluate(SMALL_TARGETS) if phone else [],
        "site_css": page.evaluate("[...document.styleSheets].some(s => s.href && s.href.endsWith('/static/css/site.css'))"),
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_sign_up_lands_on_the_welcome_page_and_sign_in_works_in_the_sites_look(site, new_page, artifacts_dir, viewport, name):
    user_create(username=f"returning-{name}", email=f"returning-{name}@example.com", password=PASSWORD)
    console_errors: list[str] = []
    checks = {}
    page = new_page(viewport=viewport)
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page.goto(f"{site}/accounts/signup/")
    page.fill("input[name=username]", f"newcomer-{name}")
    page.fill("input[name=email]", f"newcomer-{name}@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    checks["signup"] = _check(page, phone=name == "phone")
    _shot(page, artifacts_dir / f"accounts-signup-{name}.png")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{site}/accounts/welcome/")
    steps = page.locator("[data-step]").evaluate_all("nodes => nodes.map(n => n.dataset.step)")
    step_links = page.locator("[data-step] a.button").evaluate_all("nodes => nodes.map(n => n.getAttribute('href'))")
    checks["welcome"] = _check(page, phone=name == "phone")
    _shot(page, artifacts_dir / f"accounts-welcome-{name}.png")

    page.goto(f"{site}/accounts/")
    page.locator("[data-security]").scroll_into_view_if_needed()
    checks["account"] = _check(page, phone=name == "phone")
    _shot(page, artifacts_dir / f"accounts-account-{name}.png")
    page.goto(f"{site}/accounts/logout/")
    checks["logout"] = _check(page, phone=name == "phone")
    _shot(page, artifacts_dir / f"accounts-logout-{name}.png")
    page.locator("main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site}/")

    page.goto(f"{site}/accounts/login/?next=/generate/")
    checks["login"] = _check(page, phone=name == "phone")
    _shot(page, artifacts_dir / f"accounts-login-{name}.png")
    page.fill("input[name=login]", f"returning-{name}")
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="Sign in").click()
    error_shown = page.locator(".errorlist").inner_text()
    _shot(page, artifacts_dir / f"accounts-login-error-{name}.png")
    page.fill("input[name=login]", f"returning-{name}@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/generate/")

    assert steps == ["generate", "gallery", "api"]
    assert step_links[:2] == ["/generate/", "/gallery/"]
    assert "not correct" in error_shown
    for page_name in ("signup", "welcome", "account", "logout", "login"):
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
def test_the_security_pages_are_in_the_sites_look(site, new_page, artifacts_dir, viewport, name):
    user_create(username=f"careful-{name}", email=f"careful-{name}@example.com", password=PASSWORD)
    console_errors: list[str] = []
    checks = {}
    page = new_page(viewport=viewport)
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{site}/accounts/login/")
    page.fill("input[name=login]", f"careful-{name}")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/")
    for page_name, path in MANAGE_PAGES.items():
        page.goto(site + path)
        checks[page_name] = _check(page, phone=name == "phone")
        _shot(page, artifacts_dir / f"accounts-{page_name}-{name}.png")
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
    _shot(page, artifacts_dir / f"accounts-totp-activate-{name}.png")

    assert qr_width >= 150
    for page_name, seen in checks.items():
        assert seen["sideways_px"] <= 0, (page_name, seen)
        assert seen["small_targets"] == [], (page_name, seen)
        assert seen["site_css"], page_name
    assert console_errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_configured_social_providers_show_on_the_sign_in_page(site_servers, new_page, artifacts_dir, viewport, name):
    site = site_servers.url(**SOCIAL_SIGN_IN)
    page = new_page(viewport=viewport)
    page.goto(f"{site}/accounts/login/")
    providers = page.locator("[data-provider]").all_inner_texts()
    seen = _check(page, phone=name == "phone")
    _shot(page, artifacts_dir / f"accounts-login-social-{name}.png")

    assert providers == ["GitHub", "Google"]
    assert seen["sideways_px"] <= 0
    assert seen["small_targets"] == []
