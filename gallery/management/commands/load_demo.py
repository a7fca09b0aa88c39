"""`manage.py load_demo`: demo content for a local look at the site: a demo user, a staff account for
the admin (embedded default only) and a demo avatar library."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gallery.demo import StaffAccountRefused, demo_library_load, demo_staff_account_reset
from gallery.services import SourceNotImportable

DEMO_USERNAME = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "avatars-demo-2026"  # noqa: S105 - the demo password is published on purpose


class Command(BaseCommand):
    help = "Create the demo user, a staff account (embedded default only) and the demo library. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="allow it with DEBUG off")
        parser.add_argument("--avatars", type=int, default=240, help="size of the demo library (drawn locally, kept between runs)")

    def handle(self, *args, force: bool, avatars: int, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("load_demo creates a user with a published password; it runs only with DEBUG on (or --force).")
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": DEMO_EMAIL, "display_name": "Demo"}
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        verb = "Created" if created else "Reset"
        self.stdout.write(self.style.SUCCESS(f"{verb} demo user: username '{DEMO_USERNAME}', password '{DEMO_PASSWORD}'"))
        try:
            username, password = demo_staff_account_reset()
        except StaffAccountRefused as exc:
            self.stdout.write(self.style.WARNING(f"No staff account: {exc}."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Staff account for /admin/: username '{username}', password '{password}' (new each run)"))
        try:
            created = demo_library_load(count=avatars, on_progress=self._progress)
        except SourceNotImportable as exc:  # an operator's choice, not a failure: the site still runs without it
            self.stdout.write(self.style.WARNING(f"Demo library not loaded: {exc}"))
            return
        self.stdout.write(self.style.SUCCESS(f"Demo library: {avatars} avatars ({created} drawn now)"))

    def _progress(self, done: int, total: int) -> None:
        if done % 40 == 0 or done == total:
            self.stdout.write(f"  demo avatars {done}/{total}")
