"""The spend budget in the admin, in headless Chromium at desktop and phone size: its page shows the
month's standing and the ledger's list the budget's banner, without scrolling sideways."""

from decimal import Decimal

import pytest

from generation.models import CostEntry, SpendBudget
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import signed_in_page
from tests.generation.factories import CostEntryFactory

VIEWPORTS = [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")]
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_the_budget_pages_read_well(site, new_page, artifacts_dir, viewport, name) -> None:
    SpendBudget.objects.update_or_create(pk=1, defaults={"monthly_usd": Decimal("500.00"), "alert_emails": "ops@example.com"})
    CostEntryFactory(outcome=CostEntry.Outcome.SUCCEEDED, cost_usd=Decimal("512.40"))
    page = signed_in_page(new_page, site, UserFactory(is_staff=True, is_superuser=True), viewport=viewport)

    page.goto(f"{site}/admin/generation/spendbudget/1/change/")
    assert page.get_by_text("$512.40 of $500.00 committed (102%)").is_visible()
    assert page.get_by_text("Thresholds crossed: 50 %, 80 %, 100 %.").is_visible()
    page.screenshot(path=str(artifacts_dir / f"budget-change-{name}.png"), full_page=True)
    changed = page.evaluate(SIDEWAYS)

    page.goto(f"{site}/admin/generation/costentry/")
    assert page.locator(".messagelist .error").get_by_text("Hard stop: free users get the local generator.").is_visible()
    page.screenshot(path=str(artifacts_dir / f"budget-ledger-{name}.png"), full_page=True)
    listed = page.evaluate(SIDEWAYS)

    assert (changed, listed) == (0, 0)
