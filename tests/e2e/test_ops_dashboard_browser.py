"""The operator's dashboard in headless Chromium at desktop and phone size, with a month of data:
the site's browser checks (no sideways scroll, no serious or critical axe-core violation, no console
error, 44 px touch targets on the phone), every chart drawn, a table opening under its chart inside
its own box; screenshots in test-artifacts/ops-dashboard-{desktop,phone}.png."""

from datetime import timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from gallery.models import DailyCount
from generation.models import CostEntry, GenerationJob, QuotaRefusal
from generation.styles import LOCAL_CHAIN
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import signed_in_page
from tests.e2e.test_every_page_browser import BLOCKING_IMPACTS, SIDEWAYS_PX, SMALL_TARGETS
from tests.generation.factories import CostEntryFactory, GenerationJobFactory

VIEWPORTS = [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")]
# The dashboard's own controls beside the form's: the chart links, the tables' summaries, the CSV links.
OPS_SMALL_TARGETS = """
() => [...document.querySelectorAll('.ops-toc a, .ops-details summary, .ops-csv a')]
  .filter(e => e.offsetParent !== null)
  .map(e => [e.outerHTML.slice(0, 80), Math.round(e.getBoundingClientRect().height)]).filter(([, h]) => h < 44)
"""
CHARTS_FIT = (
    "() => [...document.querySelectorAll('svg.ops-chart')].map(svg => svg.getBoundingClientRect().right <= window.innerWidth + 0.5)"
)


def _month_of_data() -> None:
    """Jobs, provider calls, refusals, gallery counts and sign-ups over the last two weeks."""
    now = timezone.now()
    chain = ["fal:fal-ai/flux/schnell"]
    member = UserFactory()
    for day in range(14):
        at = now - timedelta(days=day, hours=1)
        for n in range(day % 4 + 1):
            plan, queue = ("premium", "premium") if n % 3 == 2 else ("free", "standard")
            job = GenerationJobFactory(user=member, plan=plan, queue=queue, status="succeeded", style="photo", provider_chain=chain)
            entry = CostEntryFactory(
                job=job,
                provider="fal" if n % 2 else "replicate",
                plan=plan,
                outcome="succeeded",
                cost_usd=Decimal("0.003"),
                latency_ms=2000 + 300 * n,
            )
            GenerationJob.objects.filter(pk=job.pk).update(
                created_at=at, started_at=at + timedelta(seconds=n), finished_at=at + timedelta(seconds=5)
            )
            CostEntry.objects.filter(pk=entry.pk).update(created_at=at)
        instant = GenerationJobFactory(
            user=member, plan="free", queue="standard", status="succeeded", style="pixel", provider_chain=list(LOCAL_CHAIN)
        )
        reused = GenerationJobFactory(user=member, plan="free", queue="standard", status="succeeded", provider_chain=chain, reused_from=job)
        GenerationJob.objects.filter(pk__in=[instant.pk, reused.pk]).update(created_at=at)
        if day % 3 == 0:
            QuotaRefusal.objects.create(day=at.date(), plan="free", count=day % 5 + 1)
        DailyCount.objects.create(day=at.date(), kind="view", count=20 + day)
        DailyCount.objects.create(day=at.date(), kind="download", count=day)
        user = UserFactory()
        type(user).objects.filter(pk=user.pk).update(date_joined=at)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_the_dashboard_with_data_passes_the_site_s_browser_checks(site, new_page, artifacts_dir, viewport, name) -> None:
    _month_of_data()
    page = signed_in_page(new_page, site, UserFactory(is_staff=True), viewport=viewport)
    console = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console.append(f"page error: {error}"))

    response = page.goto(f"{site}/ops/")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "Operator's dashboard"
    assert page.locator("svg.ops-chart").count() == 11
    page.screenshot(path=str(artifacts_dir / f"ops-dashboard-{name}.png"), full_page=True)
    checks = {
        "sideways_px": page.evaluate(SIDEWAYS_PX),
        "small": page.evaluate(SMALL_TARGETS) + page.evaluate(OPS_SMALL_TARGETS),
        "charts_fit": page.evaluate(CHARTS_FIT),
        "axe": [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in BLOCKING_IMPACTS],
    }

    spend = page.locator("#chart-spend-provider")
    spend.locator("summary").click()
    table = spend.locator("table")
    assert table.is_visible()
    assert table.locator("tbody tr").last.locator("th").inner_text() == "Total"
    box_right = spend.locator(".ops-scroll").evaluate("box => box.getBoundingClientRect().right")
    sideways_with_table = page.evaluate(SIDEWAYS_PX)

    assert checks["sideways_px"] <= 0, checks
    assert sideways_with_table <= 0
    assert box_right <= viewport["width"] + 0.5
    assert all(checks["charts_fit"]), checks
    assert checks["axe"] == [], checks
    assert console == []
    if name == "phone":
        assert checks["small"] == [], checks
