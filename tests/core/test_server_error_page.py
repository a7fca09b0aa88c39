"""A page that fails answers 500 with the site's own page (its look and a way on), not Django's bare one;
it stands alone, so it renders even where the URL map is not the site's (tests/core/test_errors.py)."""

import pytest
from django.urls import path

from avatarsite.urls import urlpatterns as site_urlpatterns

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def _broken_page(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken-page/", _broken_page), *site_urlpatterns]
handler500 = "avatarsite.core.views.server_error"


def test_a_failing_page_answers_500_with_the_sites_error_page(client):
    client.raise_request_exception = False

    response = client.get("/broken-page/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert 'class="brand"' in page  # the site's layout
    assert 'href="/gallery/"' in page
    assert "a bug" not in page  # nothing of the error is shown
