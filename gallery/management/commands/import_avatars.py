"""`manage.py import_avatars`: fill the gallery from a premade source, resumably."""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gallery.importers.base import ImportQuery, SourceError
from gallery.importers.registry import importer_get, importer_slugs
from gallery.services import ImportSummary, SourceNotImportable, import_run, source_assert_importable, source_get_or_create

# Every filter any source knows; each importer refuses the ones its source does not have.
FILTERS = (
    ("orientation", ["landscape", "portrait", "square"], "Pexels"),
    ("size", ["large", "medium", "small"], "Pexels: minimum photo size"),
    ("color", None, "Pexels: a colour name or hex code"),
    ("locale", None, "Pexels: e.g. en-US"),
    ("gender", ["male", "female"], "Generated Photos"),
    ("age", ["infant", "child", "young-adult", "adult", "elderly"], "Generated Photos"),
    ("ethnicity", ["white", "latino", "asian", "black"], "Generated Photos"),
    ("eye_color", ["brown", "blue", "gray", "green"], "Generated Photos"),
    ("hair_color", ["brown", "black", "blond", "gray", "red"], "Generated Photos"),
    ("hair_length", ["short", "medium", "long"], "Generated Photos"),
    ("emotion", ["joy", "neutral", "surprise"], "Generated Photos"),
    ("order_by", ["random", "latest", "oldest"], "Generated Photos"),
)


class Command(BaseCommand):
    help = "Import premade avatars from a source (idempotent; an interrupted run resumes where it stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, choices=importer_slugs())
        parser.add_argument("--query", default="", help="search words (empty = the source's curated feed)")
        parser.add_argument("--limit", type=int, default=80, help="avatars to process at most")
        parser.add_argument("--per-page", type=int, default=80)
        for name, choices, help_text in FILTERS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, choices=choices, help=help_text)

    def handle(self, *args, source: str, query: str, limit: int, per_page: int, **options) -> None:
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        importer = importer_get(source)
        if not importer.configured:
            raise CommandError(f"No API key for {source}: set {source.upper()}_API_KEY.")
        record = source_get_or_create(slug=source)
        try:
            source_assert_importable(source=record)  # the licence gate: refused before any request or write
        except SourceNotImportable as exc:
            raise CommandError(str(exc)) from exc
        filters = {name: options[name] for name, _, _ in FILTERS if options.get(name)}
        import_query = ImportQuery(query=query, filters=filters, per_page=per_page)
        try:
            importer.first_page_url(import_query)
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        try:
            summary = import_run(
                importer=importer,
                source=record,
                query=import_query,
                limit=limit,
                on_item=lambda s: self._progress(s, limit),
            )
        except SourceNotImportable as exc:  # unticked in the admin since the check above
            raise CommandError(str(exc)) from exc
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
