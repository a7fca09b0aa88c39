"""`manage.py issue_api_key <username> [--name NAME]`: create an API key for a user and print it, once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.services import ApiKeyError, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user whose plan includes the API; prints only the key (shown this once), for scripts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Issued by an operator", help="the key's label, shown in lists")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            _key, raw_key = api_key_create(user=user, name=name)
        except ApiKeyError as exc:
            raise CommandError(f"No key for {username}: {exc}") from exc
        self.stdout.write(raw_key)
