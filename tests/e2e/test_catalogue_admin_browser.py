"""The provider catalogue in the admin, in headless Chromium at desktop and phone size: the list says
which key variables are set, the change page shows a provider with its models, and neither scrolls
sideways."""

import pytest
from django.conf import settings

from catalogue.models import ImageProvider
from catalogue.services import catalogue_import
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import signed_in_page

VIEWPORTS = [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")]
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_the_catalogue_pages_read_well(site, new_page, artifacts_dir, viewport, name) -> None:
    catalogue_import(providers=settings.GENERATION_PROVIDERS)
    fal = ImageProvider.objects.get(name="fal")
    page = signed_in_page(new_page, site, UserFactory(is_staff=True, is_superuser=True), viewport=viewport)

    page.goto(f"{site}/admin/catalogue/imageprovider/")
    assert page.locator("#result_list").get_by_text("FAL_KEY (not set here)").is_visible()
    assert page.get_by_role("link", name="Provider health").get_attribute("href") == "/admin/generation/costentry/health/"
    page.screenshot(path=str(artifacts_dir / f"catalogue-list-{name}.png"), full_page=True)
    listed = page.evaluate(SIDEWAYS)

    page.goto(f"{site}/admin/catalogue/imageprovider/{fal.pk}/change/")
    assert page.get_by_text("Not set: without FAL_KEY the provider is not set up").is_visible()
    assert page.locator("input[value='fal-ai/flux/schnell']").is_visible()
    page.screenshot(path=str(artifacts_dir / f"catalogue-provider-{name}.png"), full_page=True)
    changed = page.evaluate(SIDEWAYS)

    assert (listed, changed) == (0, 0)
