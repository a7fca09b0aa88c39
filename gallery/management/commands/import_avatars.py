"""`manage.py import_avatars`: fill the gallery from a premade source, resumably."""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gallery.importers.base import ImportQuery
from gallery.importers.registry import importer_get, importer_slugs
from gallery.services import ImportSummary, import_run, source_get_or_create

PEXELS_FILTERS = ("orientation", "size", "color", "locale")


class Command(BaseCommand):
    help = "Import premade avatars from a source (idempotent; an interrupted run resumes where it stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, choices=importer_slugs())
        parser.add_argument("--query", default="", help="search words (empty = the source's curated feed)")
        parser.add_argument("--limit", type=int, default=80, help="avatars to process at most")
        parser.add_argument("--per-page", type=int, default=80)
        parser.add_argument("--orientation", choices=["landscape", "portrait", "square"])
        parser.add_argument("--size", choices=["large", "medium", "small"], help="minimum photo size")
        parser.add_argument("--color", help="a colour name or hex code")
        parser.add_argument("--locale", help="e.g. en-US")

    def handle(self, *args, source: str, query: str, limit: int, per_page: int, **options) -> None:
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        importer = importer_get(source)
        if not importer.configured:
            raise CommandError(f"No API key for {source}: set {source.upper()}_API_KEY.")
        record = source_get_or_create(slug=source)
        if not record.enabled:
            raise CommandError(f"The source {record.name} is disabled (see its licence settings in the admin).")
        filters = {name: options[name] for name in PEXELS_FILTERS if options.get(name)}
        summary = import_run(
            importer=importer,
            source=record,
            query=ImportQuery(query=query, filters=filters, per_page=per_page),
            limit=limit,
            on_item=lambda s: self._progress(s, limit),
        )
        if sys.stderr.isatty():
            self.stderr.write("")
        self._report(summary)

    def _progress(self, summary: ImportSummary, limit: int) -> None:
        if not sys.stderr.isatty():
            return
        done = summary.processed
        bar = "#" * (30 * done // limit)
        self.stderr.write(f"\r[{bar:<30}] {done}/{limit}", ending="")

    def _report(self, summary: ImportSummary) -> None:
        self.stdout.write(f"new {summary.new} · updated {summary.updated} · duplicate {summary.duplicate} · failed {summary.failed}")
        for failure in summary.failures[:20]:
            self.stdout.write(f"  failed: {failure}")
        if summary.stopped_reason:
            when = f"; continue after {summary.resume_at:%Y-%m-%d %H:%M UTC}" if summary.resume_at else ""
            self.stdout.write(self.style.WARNING(f"stopped early: {summary.stopped_reason}{when}"))
        elif summary.finished:
            self.stdout.write(self.style.SUCCESS("the source has no more results for this query"))
