"""The ops app: the operator's dashboard; it has no models of its own."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operator's console"
