"""Billing's pages on the account page's paths: the API keys at /accounts/api-keys/. Included by
avatarsite/accounts/urls.py without a namespace of its own, so their names stay in the accounts
namespace they had before they moved here ("accounts:api_key_create", "accounts:api_key_revoke")."""

from django.urls import path

from . import views

urlpatterns = [
    path("api-keys/", views.create_api_key, name="api_key_create"),
    path("api-keys/<int:key_id>/revoke/", views.revoke_api_key, name="api_key_revoke"),
]
