"""Generation API URLs, mounted under /api/v1/ (API key required)."""

from django.urls import path

from . import api

urlpatterns = [
    path("generations", api.GenerationListApi.as_view(), name="api-generation-list"),
    path("generations/<str:job_id>", api.GenerationDetailApi.as_view(), name="api-generation-detail"),
    path("generations/<str:job_id>/cancel", api.GenerationCancelApi.as_view(), name="api-generation-cancel"),
    path("usage", api.UsageApi.as_view(), name="api-usage"),
]
