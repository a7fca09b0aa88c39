"""The operator's console: the dashboard (its CSVs are ?format=csv&chart=<name> on the same URL)."""

from django.urls import path

from . import views

app_name = "ops"
urlpatterns = [path("", views.dashboard, name="dashboard")]
