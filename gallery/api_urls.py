"""Gallery API URLs, mounted under /api/v1/."""

from django.urls import path

from . import api

urlpatterns = [
    path("avatars", api.AvatarListApi.as_view(), name="api-avatar-list"),
    path("avatars/<int:avatar_id>", api.AvatarDetailApi.as_view(), name="api-avatar-detail"),
]
