"""avatarsite project package: wiring only (settings, URLs, ASGI, Celery)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
