"""`manage.py issue_api_key <username> [--name NAME] [--webhook-secret]`: create an API key for a user and
print it, once (and its webhook signing secret on a second line when asked)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.services import ApiKeyError, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user whose plan includes the API; prints only the key (shown this once), for scripts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Issued by an operator", help="the key's label, shown in lists")
        parser.add_argument("--webhook-secret", action="store_true", help="also print the key's webhook signing secret, on a second line")

    def handle(self, *args, username: str, name: str, webhook_secret: bool, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            key, raw_key = api_key_create(user=user, name=name)
        except ApiKeyError as exc:
            raise CommandError(f"No key for {username}: {exc}") from exc
        self.stdout.write(raw_key)
        if webhook_secret:
            self.stdout.write(key.webhook_secret)
