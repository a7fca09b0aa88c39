"""Top-level URL map: pages, accounts, admin and the health endpoint."""

import re

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve as serve_file
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from avatarsite.core import views as core_views
from avatarsite.core.metrics import metrics_view
from gallery import views as gallery_views

# The admin signs in through the site's sign-in page, with its rate limits and two-factor, not a
# login form of its own that nothing throttles (set before admin.site.urls is read).
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", gallery_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus: staff or the METRICS_TOKEN bearer
    path("api/", core_views.api_overview, name="api"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("gallery.api_urls")),
    path("api/v1/", include("generation.api_urls")),
    re_path(r"^api/(?P<rest>.*)$", core_views.api_unrouted),  # last under /api/: a JSON 404, DEBUG or not
    # allauth's pages first (sign-up, sign-in, e-mail, password, two-factor, social), then the site's
    # own account pages and the old names and paths (avatarsite/accounts/urls.py).
    path("accounts/", include("allauth.urls")),
    path("accounts/", include("avatarsite.accounts.urls")),
    path("gallery/", include("gallery.urls")),
    path("generate/", include("generation.urls")),
    path("", include("billing.urls")),
    path("ops/", include("ops.urls")),
    path("admin/", admin.site.urls),
]

if settings.SERVE_MEDIA_LOCALLY:
    # Embedded mode only: in production files come from R2 behind the CDN, never through Django.
    # Only the public storage's files (the gallery): users' generated images live in the private
    # one, served to their owner alone by the owner-checked route (generation:image_download).
    _public = settings.STORAGES["public"]["OPTIONS"]
    urlpatterns += [
        re_path(rf"^{re.escape(_public['base_url'].lstrip('/'))}(?P<path>.*)$", serve_file, {"document_root": _public["location"]}),
    ]

handler404 = "avatarsite.core.views.not_found"
handler500 = "avatarsite.core.views.server_error"
