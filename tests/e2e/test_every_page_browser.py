"""Every page a visitor or a member can reach, in headless Chromium at 1280x800 and 390x844: no
sideways scroll, no serious or critical axe-core violation, no console error, 44 px touch targets
on the phone; a full-page screenshot of each in test-artifacts/pages/<name>-<w>x<h>.png, every axe
finding (minor ones too) in test-artifacts/pages/axe.json, what failed in findings.json.

One server, one browser, each page loaded once per size. The member has history (a finished, a
failed and a waiting job) and API keys (and creates one, so the account page shows a new key once);
a second member has two-factor on, for allauth's two-factor pages. The list of pages is checked
against the URL map, so a new page is visited or excused here, never silently skipped."""

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from axe_playwright_python.sync_playwright import Axe
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from avatarsite.accounts.services import user_create
from billing.services import api_key_create
from gallery.demo import demo_library_load
from gallery.models import Avatar
from generation.models import GenerationJob
from generation.services import LOCAL_STYLES, generation_job_create, generation_job_fail, generation_job_images_finish, generation_job_run

PASSWORD = "a-long-password-1"
VIEWPORTS = [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]
PHONE_SIZE = "390x844"  # where touch targets are measured
BLOCKING_IMPACTS = {"serious", "critical"}
# Wider than the window = a sideways scroll bar (the root's and the body's, whichever is wider).
# Controls in the page's main part shorter than a finger on a phone (links inside sentences are
# exempt; a radio or checkbox counts by its label, which is what one taps).
SMALL_TARGETS = """
() => [...document.querySelectorAll('main :is(input:not([type=hidden]), select, textarea, button, a.button)')]
  .filter(e => e.offsetParent !== null && !e.closest('#swagger-ui'))
  .map(e => {
    const target = ['radio', 'checkbox'].includes(e.type) ? (e.closest('label') || document.querySelector(`label[for="${e.id}"]`) || e) : e;
    return [e.outerHTML.slice(0, 90), Math.round(target.getBoundingClientRect().height)];
  })
  .filter(([, height]) => height < 44)
"""
SIDEWAYS_PX = "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"


@dataclass(frozen=True)
class Visit:
    """One page: its screenshot name, how to reach it, the URL names it stands for."""

    name: str
    path: str | Callable[["World"], str]  # a path, or one built from the test's data
    covers: tuple[str, ...] = ()  # URL names (namespace:name) this visit shows; the path's own is found
    status: int = 200
    ready: str = ""  # a selector that is there once the page has drawn itself (script-built pages)
    submit: str = ""  # a form button to press after loading: the page is the answer to that POST
    fill: tuple[tuple[str, str], ...] = ()  # (selector, text) to type before pressing it
    presses: int = 1  # how many times the form is opened and sent (the last answer is the page)
    clicks: tuple[str, ...] = ()  # then, in turn: wait for the selector, click every element it matches


@dataclass
class World:
    avatar: Avatar
    succeeded: GenerationJob
    failed: GenerationJob
    waiting: GenerationJob
    running: GenerationJob
    confirm_email_key: str
    reset_key_path: str


# Confirming one's password on the reauthentication page: the page shown is where it leads.
REAUTHENTICATE = {"submit": "Confirm", "fill": (("input[name=password]", PASSWORD),)}
# What a visitor sees, signed out.
PUBLIC = [
    Visit("home", "/"),
    Visit("gallery", "/gallery/"),
    Visit("gallery-search", "/gallery/?q=red+hair"),
    Visit("gallery-filters", "/gallery/?gender=female&age_group=adult"),
    Visit("gallery-nothing-found", "/gallery/?q=astronaut+on+the+moon"),
    Visit("gallery-avatar", lambda w: reverse("gallery:detail", args=[w.avatar.pk])),
    Visit("pricing", "/pricing/"),
    Visit("api", "/api/"),
    Visit("api-docs", "/api/docs/", ready=".opblock-summary-description"),
    # Two operations opened (one with query parameters, one with a request body), "Try it out" on,
    # one request sent; then the key dialog. (All of them opened: axe takes 10 s on that page.)
    Visit(
        "api-docs-open",
        "/api/docs/",
        clicks=(
            "#operations-avatars-avatars_list .opblock-summary-control,"
            " #operations-generations-generations_create .opblock-summary-control",
            ".try-out__btn",
            "#operations-avatars-avatars_list .btn.execute",
        ),
        ready="#operations-avatars-avatars_list .live-responses-table",
    ),
    Visit("api-docs-authorize", "/api/docs/", clicks=(".btn.authorize",), ready=".dialog-ux"),
    Visit("login", "/accounts/login/"),
    Visit("signup", "/accounts/signup/"),
    # The same two forms answering with their errors.
    Visit("login-error", "/accounts/login/", submit="Sign in", fill=(("input[name=login]", "member"), ("input[name=password]", "not-it"))),
    Visit(
        "signup-errors",
        "/accounts/signup/",
        submit="Create account",
        fill=(
            ("input[name=username]", "member"),
            ("input[name=email]", "member@example.com"),
            ("input[name=password1]", "short"),
            ("input[name=password2]", "different"),
        ),
    ),
    Visit("password-reset", "/accounts/password/reset/"),
    Visit("password-reset-done", "/accounts/password/reset/done/"),
    Visit("password-reset-from-key", lambda w: w.reset_key_path, covers=("account_reset_password_from_key",)),
    Visit("password-reset-bad-key", "/accounts/password/reset/key/1-not-a-key/", covers=("account_reset_password_from_key",)),
    Visit("password-reset-key-done", "/accounts/password/reset/key/done/"),
    Visit("email-verification-sent", "/accounts/confirm-email/"),
    Visit("confirm-email", lambda w: reverse("account_confirm_email", args=[w.confirm_email_key])),
    Visit("account-inactive", "/accounts/inactive/"),
    Visit("social-login-cancelled", "/accounts/3rdparty/login/cancelled/"),
    Visit("social-login-error", "/accounts/3rdparty/login/error/", status=401),
    Visit("not-found", "/no-such-page/", status=404),
    # Asking for a reset link a sixth time in a minute for one address: allauth's limit answers.
    Visit(
        "too-many-attempts",
        "/accounts/password/reset/",
        status=429,
        submit="Reset My Password",
        presses=6,
        fill=(("input[name=email]", "nobody-{width}@example.com"),),
    ),
]
# What the member (history and API keys present) sees, signed in.
MEMBER = [
    Visit("welcome", "/accounts/welcome/"),
    Visit("generate", "/generate/"),
    Visit("job-succeeded", lambda w: reverse("generation:job", args=[w.succeeded.id]), ready="[data-result] img"),
    Visit("job-failed", lambda w: reverse("generation:job", args=[w.failed.id])),
    Visit("job-waiting", lambda w: reverse("generation:job", args=[w.waiting.id])),
    Visit("job-running", lambda w: reverse("generation:job", args=[w.running.id])),
    Visit("history", "/generate/history/"),
    Visit("account", "/accounts/"),
    # The POST-then-redirect of "Create key": the account page with the new key shown once.
    Visit(
        "account-new-key",
        "/accounts/",
        covers=("accounts:api_key_create",),
        ready="[data-new-key-value]",
        submit="Create key",
        fill=(("#api-key-name", "my phone"),),
    ),
    # Revoking it (the plan allows two keys: this makes room for the next screen size's).
    Visit("account-key-revoked", "/accounts/", covers=("accounts:api_key_revoke",), submit="Revoke the key my phone"),
    Visit("email", "/accounts/email/"),
    Visit("password-change", "/accounts/password/change/"),
    Visit("two-factor", "/accounts/2fa/"),
    Visit("reauthenticate", "/accounts/reauthenticate/?next=/accounts/2fa/totp/activate/"),
    # The password again (changing two-factor asks for it), then the authenticator app's QR code.
    Visit(
        "totp-activate",
        "/accounts/reauthenticate/?next=/accounts/2fa/totp/activate/",
        covers=("mfa_activate_totp",),
        ready="img.totp-qr",
        **REAUTHENTICATE,
    ),
    Visit("social-connections", "/accounts/3rdparty/"),
    Visit("checkout-complete", "/billing/checkout-complete/"),
    Visit("checkout-canceled", "/billing/checkout-canceled/"),
    Visit("pricing-member", "/pricing/"),
    Visit("logout", "/accounts/logout/"),
]
# The member with two-factor on: the code asked at sign-in (visited during the sign-in itself), then
# the two-factor pages of an enrolled account.
TWO_FACTOR_SIGN_IN = Visit("two-factor-authenticate", "/accounts/2fa/authenticate/")
TWO_FACTOR = [
    Visit("two-factor-reauthenticate", "/accounts/2fa/reauthenticate/"),
    Visit("two-factor-on", "/accounts/reauthenticate/?next=/accounts/2fa/", **REAUTHENTICATE),
    Visit("totp-deactivate", "/accounts/2fa/totp/deactivate/"),
    Visit("recovery-codes", "/accounts/2fa/recovery-codes/"),
    Visit("recovery-codes-generate", "/accounts/2fa/recovery-codes/generate/"),
]
PAGES = [*PUBLIC, *MEMBER, TWO_FACTOR_SIGN_IN, *TWO_FACTOR]

# URL names without arguments that are not a page to look at, each with the reason.
NOT_PAGES = {
    "healthz": "JSON for monitors",
    "metrics": "the Prometheus text format for scrapers (staff or the METRICS_TOKEN bearer)",
    "api-schema": "the OpenAPI document (YAML), shown by api-docs",
    "accounts:login": "the same path as account_login (allauth's view)",
    "accounts:signup": "the same path as account_signup",
    "accounts:logout": "the same path as account_logout",
    "accounts:password_reset": "the same path as account_reset_password",
    "account_set_password": "only for accounts without a password (social sign-in only); redirects to password change otherwise",
    "account_confirm_login_code": "sign-in by mailed code is off (ACCOUNT_LOGIN_BY_CODE_ENABLED)",
    "mfa_download_recovery_codes": "a text file download, not a page",
    "socialaccount_signup": "only in the middle of a social sign-in; redirects to sign-in otherwise",
    "generation:estimate": "JSON: the generate page's cost, lane and ETA line, fetched as the choices change",
    "billing:portal": "POST only: a redirect to Stripe's portal",
    "billing:stripe_webhook": "Stripe's webhook endpoint (POST, JSON)",
    "ops:dashboard": "staff only, with data: the same checks in tests/e2e/test_ops_dashboard_browser.py",
}
NOT_PAGE_PREFIXES = ("admin:", "api-")  # Django's admin; the JSON API under /api/v1/


def _named_patterns(patterns, namespace: str = "", prefix: str = "") -> list[tuple[str, str, int]]:
    """Every named URL pattern: (namespace:name, route, number of arguments)."""
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace or ""]))
            found += _named_patterns(entry.url_patterns, inner, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            found.append(
                (f"{namespace}:{entry.name}" if namespace else entry.name, prefix + str(entry.pattern), entry.pattern.regex.groups)
            )
    return found


def _static_path(visit: Visit) -> str | None:
    return visit.path.split("?")[0] if isinstance(visit.path, str) else None


def test_every_page_without_arguments_is_visited_or_excused():
    visited_paths = {_static_path(v) for v in PAGES} - {None}
    covered = {name for v in PAGES for name in v.covers}
    missing = []
    for name, _route, arguments in _named_patterns(get_resolver().url_patterns):
        if arguments or name in NOT_PAGES or name.startswith(NOT_PAGE_PREFIXES) or name in covered:
            continue
        if reverse(name) not in visited_paths:
            missing.append(name)
    assert missing == [], "add these pages to PAGES, or to NOT_PAGES with the reason"


def test_every_block_in_the_stylesheets_is_closed():
    """An unclosed @media block swallows every rule after it (the desktop then misses them all)."""
    unbalanced = {}
    for sheet in sorted((Path(__file__).resolve().parents[2] / "static" / "css").glob("*.css")):
        text = re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.S)
        depth, lowest = 0, 0
        for char in text:
            depth += {"{": 1, "}": -1}.get(char, 0)
            lowest = min(lowest, depth)
        if depth or lowest:
            unbalanced[sheet.name] = depth
    assert unbalanced == {}


@dataclass
class Findings:
    """What went wrong on which page at which size."""

    sideways: dict[str, int] = field(default_factory=dict)
    axe: dict[str, list[str]] = field(default_factory=dict)
    console: dict[str, list[str]] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    all_axe: dict[str, list[dict]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    small_targets: dict[str, list] = field(default_factory=dict)


def _world() -> tuple[World, list[str]]:
    """The data the pages show: a small demo library, the member's history and keys, a second
    member with two-factor on (returns its recovery codes: one per sign-in)."""
    demo_library_load(count=12, size=128)
    member = user_create(username="member", email="member@example.com", password=PASSWORD)
    api_key_create(user=member, name="laptop")
    style = LOCAL_STYLES[0]
    succeeded = generation_job_run(
        job_id=str(generation_job_create(user_id=member.pk, prompt="A smiling woman with curly red hair", style=style).id)
    )
    assert succeeded.status == "succeeded", succeeded.message
    generation_job_images_finish(job_id=str(succeeded.id))  # every size and format, as the worker's follow-up task does
    failed = generation_job_create(user_id=member.pk, prompt="A sailor in the rain", style=style)
    generation_job_fail(job=failed, kind="permanent", message="The provider refused the request.")
    waiting = generation_job_create(user_id=member.pk, prompt="A pirate with a green hat", style=style)
    # A job a worker has taken and is drawing (the state is set here: no worker runs in this test).
    running = generation_job_create(user_id=member.pk, prompt="An astronaut with a silver bun", style=style)
    GenerationJob.objects.filter(pk=running.pk).update(status="running", progress=40, started_at=timezone.now(), message="Drawing")
    # A reset link of someone who never signs in here (a sign-in changes last_login, which ends the link).
    forgetful = user_create(username="forgetful", email="forgetful@example.com", password=PASSWORD)
    # A second, unconfirmed address (not the member's: two-factor waits until every address is confirmed).
    address = EmailAddress.objects.create(user=forgetful, email="forgetful.work@example.com", primary=False, verified=False)
    # The reset link after it: the link's token covers the addresses.
    reset_key = {"uidb36": user_pk_to_url_str(forgetful), "key": default_token_generator.make_token(forgetful)}
    reset_path = reverse("account_reset_password_from_key", kwargs=reset_key)

    careful = user_create(username="careful", email="careful@example.com", password=PASSWORD)
    TOTP.activate(careful, generate_totp_secret())
    codes = RecoveryCodes.activate(careful).get_unused_codes()
    world = World(
        avatar=Avatar.objects.order_by("pk").first(),
        succeeded=succeeded,
        failed=GenerationJob.objects.get(pk=failed.pk),
        waiting=waiting,
        running=running,
        confirm_email_key=EmailConfirmationHMAC(address).key,
        reset_key_path=reset_path,
    )
    return world, codes


def _describe(violation: dict) -> str:
    """One line per rule: what it is, how often, the first element and why it fails."""
    first = violation["nodes"][0]
    why = first.get("failureSummary", "").replace("\n", " ")[:200]
    return f"{violation['id']} ({violation['impact']}): {violation['help']}, {len(violation['nodes'])} times, e.g. {first['target']}: {why}"


class Inspector:
    """Loads pages in one browser tab and records what each shows."""

    def __init__(self, page, site: str, world: World, viewport: dict, out: Path, findings: Findings) -> None:
        self.page, self.site, self.world, self.out, self.findings = page, site, world, out, findings
        self.size = f"{viewport['width']}x{viewport['height']}"
        self.width = viewport["width"]
        self.axe = Axe()
        self.current = ""
        self.expected_status = 200
        page.on("console", self._console)
        page.on("pageerror", lambda error: self._error(f"page error: {error}"))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        # The browser logs the document's own 404 as a failed resource: expected on the 404 page.
        own_status = f"status of {self.expected_status}" in message.text and message.location.get("url", "").startswith(self.site)
        if self.expected_status != 200 and own_status and message.location.get("url") == self.page.url:
            return
        self._error(f"{message.text} ({message.location.get('url', '')})")

    def _error(self, text: str) -> None:
        self.findings.console.setdefault(self.current, []).append(text)

    def goto(self, visit: Visit) -> None:
        """Open the page, wait until it has drawn itself, then look at it."""
        started = time.monotonic()
        self.current, self.expected_status = f"{visit.name}@{self.size}", visit.status
        try:
            self._open(visit)
        except Exception:
            self.page.screenshot(path=str(self.out / f"{visit.name}-{self.size}-failed.png"), full_page=True)
            raise
        self.inspect(visit.name)
        self.findings.timings[self.current] = round(time.monotonic() - started, 2)

    def _open(self, visit: Visit) -> None:
        path = visit.path if isinstance(visit.path, str) else visit.path(self.world)
        response = self.page.goto(self.site + path)
        for press in range(visit.presses if visit.submit else 0):
            if press:  # the form again, as one who tries again would open it
                self.page.goto(self.site + path)
            for selector, text in visit.fill:
                self.page.fill(selector, text.format(width=self.width))
            with self.page.expect_navigation() as answered:
                self.page.locator("main").get_by_role("button", name=visit.submit).click()
            response = answered.value
        if response is not None and response.status != visit.status:
            self.findings.status[self.current] = response.status
        self.page.wait_for_load_state("networkidle")
        for selector in visit.clicks:
            self.page.locator(selector).first.wait_for(timeout=15_000)
            self.page.locator(selector).evaluate_all("elements => elements.forEach(e => e.click())")
        if visit.ready:
            self.page.locator(visit.ready).first.wait_for(timeout=15_000)

    def inspect(self, name: str) -> None:
        self.current = f"{name}@{self.size}"
        sideways = self.page.evaluate(SIDEWAYS_PX)
        if sideways > 0:
            self.findings.sideways[self.current] = sideways
        if self.size == PHONE_SIZE:
            small = self.page.evaluate(SMALL_TARGETS)
            if small:
                self.findings.small_targets[self.current] = small
        results = self.axe.run(self.page).response
        self.findings.all_axe[self.current] = [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]][:10]}
            for v in results["violations"]
        ]
        blocking = [_describe(v) for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]
        if blocking:
            self.findings.axe[self.current] = blocking
        self.page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page repeats the sticky header
        self.page.screenshot(path=str(self.out / f"{name}-{self.size}.png"), full_page=True)

    def sign_in(self, username: str) -> None:
        self.current = f"sign-in@{self.size}"
        self.page.goto(f"{self.site}/accounts/login/")
        self.page.fill("input[name=login]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.locator("main").get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.timeout(600)  # about 90 s here; twice that on a slow machine still passes
@pytest.mark.django_db(transaction=True)
def test_every_page_fits_passes_axe_and_logs_no_console_error(site, browser, artifacts_dir):
    world, recovery_codes = _world()
    out = artifacts_dir / "pages"
    out.mkdir(exist_ok=True)
    for earlier in out.glob("*.png"):  # only this run's pictures (a page renamed leaves none behind)
        earlier.unlink()
    findings = Findings()
    for viewport in VIEWPORTS:
        context = browser.new_context(viewport=viewport)
        inspector = Inspector(context.new_page(), site, world, viewport, out, findings)
        for visit in PUBLIC:
            inspector.goto(visit)
        inspector.sign_in("member")
        for visit in MEMBER:
            inspector.goto(visit)
        context.close()

        context = browser.new_context(viewport=viewport)
        inspector = Inspector(context.new_page(), site, world, viewport, out, findings)
        inspector.sign_in("careful")
        inspector.page.wait_for_url(f"{site}{TWO_FACTOR_SIGN_IN.path}")
        inspector.inspect(TWO_FACTOR_SIGN_IN.name)
        inspector.page.fill("input[name=code]", recovery_codes.pop())
        inspector.page.locator("main form button[type=submit]").first.click()
        inspector.page.wait_for_url(f"{site}/")
        for visit in TWO_FACTOR:
            inspector.goto(visit)
        context.close()

    (out / "axe.json").write_text(json.dumps(findings.all_axe, indent=1))
    (out / "timings.json").write_text(json.dumps(findings.timings, indent=1))
    blocking = {
        "status": findings.status,
        "sideways": findings.sideways,
        "console": findings.console,
        "axe": findings.axe,
        "small_targets": findings.small_targets,
    }
    (out / "findings.json").write_text(json.dumps(blocking, indent=1, ensure_ascii=False))
    assert findings.status == {}, "pages answered with an unexpected status"
    assert findings.sideways == {}, "pages wider than the screen (px of sideways scroll)"
    assert findings.console == {}, "console errors"
    assert findings.axe == {}, "serious or critical axe-core violations"
    assert findings.small_targets == {}, "controls under 44 px tall on a phone"
