"""App config for the premade gallery."""

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete, post_save


def _gallery_changed(**kwargs) -> None:
    """Cached pages go stale now, and again when the transaction commits (a page rendered in
    between could still show the old state)."""
    from .page_cache import gallery_changed

    gallery_changed()
    transaction.on_commit(gallery_changed)


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self) -> None:
        from .models import Avatar, AvatarVariant, Source

        for model in (Avatar, AvatarVariant, Source):
            post_save.connect(_gallery_changed, sender=model, dispatch_uid=f"gallery-changed-save-{model.__name__}")
            post_delete.connect(_gallery_changed, sender=model, dispatch_uid=f"gallery-changed-delete-{model.__name__}")
