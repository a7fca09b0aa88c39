"""Account URLs: the account page, its API keys (billing's pages), the welcome page, and the names and paths from
before allauth (whose own pages are mounted under /accounts/ in avatarsite/urls.py, ahead of these)."""

from allauth.account import views as allauth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path("welcome/", views.welcome, name="welcome"),
    # The API keys' pages are billing's, under their names here ("accounts:api_key_create", …).
    path("", include("billing.account_urls")),
    # The names templates and other apps use ({% url 'accounts:login' %}), for allauth's views at the
    # same paths: allauth's own patterns come first and answer these URLs.
    path("login/", allauth_views.login, name="login"),
    path("signup/", allauth_views.signup, name="signup"),
    path("logout/", allauth_views.logout, name="logout"),
    path("password/reset/", allauth_views.password_reset, name="password_reset"),
    # Paths from before allauth, in bookmarks and mails.
    path("password-reset/", RedirectView.as_view(pattern_name="account_reset_password", query_string=True, permanent=True)),
    path("password-reset/sent/", RedirectView.as_view(pattern_name="account_reset_password_done", permanent=True)),
    path("password-reset/done/", RedirectView.as_view(pattern_name="account_login", permanent=True)),
    re_path(
        r"^password-reset/(?P<uidb64>[0-9A-Za-z_\-]+)/(?P<token>[^/]+)/$",
        views.LegacyPasswordResetConfirmView.as_view(),
        name="legacy_password_reset_confirm",
    ),
]
