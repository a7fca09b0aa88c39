"""A provider or model saved or deleted anywhere (the admin, a shell) is a catalogue change."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import ImageModel, ImageProvider
from .services import catalogue_changed


@receiver([post_save, post_delete], sender=ImageProvider)
@receiver([post_save, post_delete], sender=ImageModel)
def _catalogue_row_changed(**kwargs: object) -> None:
    catalogue_changed()
