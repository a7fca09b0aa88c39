"""Gallery URLs."""

from django.urls import path

from . import views

app_name = "gallery"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:avatar_id>/", views.detail, name="detail"),
    path("<int:avatar_id>/download/<int:size>.<str:fmt>", views.download, name="download"),
]
