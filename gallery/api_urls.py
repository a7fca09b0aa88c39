"""Gallery API URLs, mounted under /api/v1/."""

from django.urls import path

from . import api

urlpatterns = [
    path("avatars", api.AvatarListApi.as_view(), name="api-avatar-list"),
    path("avatars/facets", api.AvatarFacetsApi.as_view(), name="api-avatar-facets"),
    path("avatars/<int:avatar_id>", api.AvatarDetailApi.as_view(), name="api-avatar-detail"),
]
