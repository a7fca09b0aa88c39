"""The admin's provider health page in headless Chromium at desktop and phone size: readable, its
tables scroll inside their own box on a phone (the page never sideways), 44 px controls, and "try it"
on the local generator shows the image it made."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from generation.models import CostEntry
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import signed_in_page

VIEWPORTS = [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")]
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"
SMALL_TARGETS = """
() => [...document.querySelectorAll('#content-main button, .health-windows a, .health-windows strong')]
  .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height]).filter(([, h]) => h < 44)
"""
TABLES_SCROLL_INSIDE = """
() => [...document.querySelectorAll('.health-scroll')].map(box => ({
  overflows: box.scrollWidth > box.clientWidth, inside: box.getBoundingClientRect().right <= window.innerWidth + 0.5,
}))
"""


def _ledger() -> None:
    now = timezone.now()
    lines = [
        ("fal", "fal-ai/flux/schnell", "succeeded", 2300, "0.003", "", ""),
        ("fal", "fal-ai/flux/schnell", "succeeded", 3100, "0.003", "", ""),
        ("fal", "fal-ai/flux/schnell", "failed", 30000, "0", "transient", "fal did not answer within 30 s (timeout)"),
        ("replicate", "black-forest-labs/flux-schnell", "succeeded", 4200, "0.003", "", ""),
        ("replicate", "black-forest-labs/flux-schnell", "refused", 1900, "0", "refused", "replicate refused the prompt: NSFW"),
    ]
    for minutes, (provider, model, outcome, latency, cost, kind, error) in enumerate(lines, start=3):
        entry = CostEntry.objects.create(
            provider=provider, model=model, outcome=outcome, latency_ms=latency, cost_usd=Decimal(cost), error_kind=kind, error=error
        )
        at = now - timedelta(minutes=minutes)
        CostEntry.objects.filter(pk=entry.pk).update(created_at=at, finished_at=at + timedelta(milliseconds=latency))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_the_provider_health_page_reads_well_and_tries_a_model(site, new_page, artifacts_dir, viewport, name) -> None:
    _ledger()
    page = signed_in_page(new_page, site, UserFactory(is_staff=True, is_superuser=True), viewport=viewport)

    page.goto(f"{site}/admin/generation/costentry/health/")
    assert page.locator("h1").inner_text() == "Provider health"
    assert page.locator("#provider-fal").get_by_text("fal did not answer within 30 s").is_visible()
    page.screenshot(path=str(artifacts_dir / f"provider-health-{name}.png"), full_page=True)
    checks = {"sideways_px": page.evaluate(SIDEWAYS), "small": page.evaluate(SMALL_TARGETS), "boxes": page.evaluate(TABLES_SCROLL_INSIDE)}

    page.get_by_role("button", name="Try local avatarsite/parts-v2").click()
    page.locator("#try-result img").wait_for(timeout=20_000)
    assert page.locator("#try-result img").evaluate("img => img.naturalWidth") > 0
    page.locator("#try-result").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / f"provider-health-tried-{name}.png"), full_page=True)

    assert checks["sideways_px"] <= 0, checks
    assert all(box["inside"] for box in checks["boxes"]), checks
    if name == "phone":
        assert checks["small"] == [], checks
        assert any(box["overflows"] for box in checks["boxes"]), checks  # the wide table scrolls in its box
    assert CostEntry.objects.filter(plan="try-it", provider="local", outcome="succeeded").count() == 1
