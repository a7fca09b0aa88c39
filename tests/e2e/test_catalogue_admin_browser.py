"""The provider catalogue in the admin, in headless Chromium at desktop and phone size: the list says
which key variables are set, the change page shows a provider with its models, and neither scrolls
sideways."""

import pytest
from django.conf import settings
from django.test import Client

from catalogue.models import ImageProvider
from catalogue.services import catalogue_import
from tests.accounts.factories import UserFactory

VIEWPORTS = [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")]
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


def _signed_in(new_page, site: str, viewport: dict):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = new_page(viewport=viewport)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": site}])
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_the_catalogue_pages_read_well(site, new_page, artifacts_dir, viewport, name) -> None:
    catalogue_import(providers=settings.GENERATION_PROVIDERS)
    fal = ImageProvider.objects.get(name="fal")
    page = _signed_in(new_page, site, viewport)

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
