"""Add the providers this release's settings catalogue ships and the database lacks (or, with
--replace NAME, overwrite one with the settings' version)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalogue.services import catalogue_import


class Command(BaseCommand):
    help = "Copy providers from settings.GENERATION_PROVIDERS into the catalogue (new ones only, unless --replace)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--replace", nargs="*", default=[], metavar="NAME", help="overwrite these providers with the settings' version")

    def handle(self, *args, replace: list[str], **options) -> None:
        shipped = settings.GENERATION_PROVIDERS
        unknown = sorted(set(replace) - set(shipped))
        if unknown:
            raise CommandError(f"Not in the settings catalogue: {', '.join(unknown)}. Known: {', '.join(sorted(shipped))}.")
        written = catalogue_import(providers={name: config for name, config in shipped.items() if name not in replace})
        written += catalogue_import(providers={name: shipped[name] for name in replace}, replace=True) if replace else []
        self.stdout.write(f"Written: {', '.join(written) or 'nothing (every provider is already in the catalogue)'}.")
