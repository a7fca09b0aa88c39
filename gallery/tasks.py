"""Celery tasks of the gallery (batch queue): thin wrappers around services."""

import logging
import time

from celery import shared_task
from django.conf import settings

from .importers.base import ImportQuery
from .importers.registry import importer_get
from .services import SourceNotImportable, import_run, source_get_or_create

logger = logging.getLogger(__name__)


@shared_task(
    name="gallery.tasks.refresh_scheduled_imports",
    acks_late=True,
    time_limit=settings.GALLERY_IMPORT_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.GALLERY_IMPORT_TIME_LIMIT_SECONDS - 100,
)
def refresh_scheduled_imports() -> dict[str, str]:
    """Run every import in settings.GALLERY_SCHEDULED_IMPORTS; a source without a key, disabled or
    whose licence is not confirmed is skipped (and logged), the others still run."""
    results = {}
    # Stop between items well before the hard limit; the next run resumes where this one stopped.
    deadline = time.monotonic() + settings.GALLERY_IMPORT_TIME_LIMIT_SECONDS * 0.8
    for entry in settings.GALLERY_SCHEDULED_IMPORTS:
        label = f"{entry['source']}:{entry.get('query', '')}"
        importer = importer_get(entry["source"])
        source = source_get_or_create(slug=entry["source"])
        if not importer.configured:
            results[label] = "skipped: no key"
            continue
        query = ImportQuery(query=entry.get("query", ""), filters=entry.get("filters", {}), per_page=entry.get("per_page", 80))
        try:
            summary = import_run(importer=importer, source=source, query=query, limit=entry.get("limit", 80), deadline=deadline)
        except SourceNotImportable as exc:
            results[label] = f"skipped: {source.blocked_reason}"
            logger.warning("scheduled import %s skipped: %s", label, exc)
            continue
        results[label] = f"new {summary.new}, updated {summary.updated}, duplicate {summary.duplicate}, failed {summary.failed}"
        if summary.stopped_reason:
            results[label] += f"; stopped: {summary.stopped_reason}"
        logger.info("scheduled import %s: %s", label, results[label])
    return results
