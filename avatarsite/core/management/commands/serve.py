"""`manage.py serve`: the web server (HTTP + websockets) and a Celery worker in one process."""

from django.core.management.base import BaseCommand, CommandParser

from avatarsite.core.embedded import serve


class Command(BaseCommand):
    help = "Serve the site over ASGI with an in-process Celery worker (the embedded default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="serve pages only; run workers elsewhere")
        parser.add_argument("--concurrency", type=int, default=2, help="worker threads")

    def handle(self, *args, host: str, port: int, no_worker: bool, concurrency: int, **options) -> None:
        self.stdout.write(self.style.SUCCESS(f"avatarsite on http://{host}:{port}/  (Ctrl-C stops it)"))
        serve(host=host, port=port, with_worker=not no_worker, concurrency=concurrency)
