"""Generation URLs."""

from django.urls import path

from . import views

app_name = "generation"
urlpatterns = [
    path("", views.index, name="index"),
    path("history/", views.history, name="history"),
    path("estimate/", views.estimate, name="estimate"),
    path("styles/<slug:style>.webp", views.style_preview, name="style_preview"),
    path("jobs/<uuid:job_id>/", views.job, name="job"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/images/<int:index>/<int:size>.<slug:fmt>", views.image_download, name="image_download"),
]
