"""DRF authentication by API key, `Authorization: Bearer <key>`: no header stays anonymous (the public
read API), a bad key is a 401 and a valid key of a plan without the API a 403. An address that sends
API_KEY_FAILURES_PER_MINUTE bad keys gets 429 for the rest of the minute, before any key lookup."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from avatarsite.core.client_address import client_address
from avatarsite.core.counters import counter_hit

from .services import ApiAccessUnavailableError, ApiCredential, api_key_authenticate, api_key_prefix_of


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_code = "invalid_api_key"


class ApiAccessDenied(exceptions.PermissionDenied):
    default_code = "api_access_unavailable"


class ApiKeyAuthentication(BaseAuthentication):
    """Sets `request.user` to the key's owner and `request.auth` to its `ApiCredential`.

    A header of another scheme (e.g. a staging proxy's Basic auth) is left to others: the request
    stays anonymous. DRF answers 401 rather than 403 because `authenticate_header` names the scheme.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[object, ApiCredential] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        window = int(time.time() // 60)
        failures_key = f"api-key-failures:{client_address(request)}:{window}"
        if (cache.get(failures_key) or 0) >= settings.API_KEY_FAILURES_PER_MINUTE:
            # Someone trying keys from this address: no more lookups until the minute is over. The
            # headers say which limit this is: the bad keys an address may send in a minute.
            # (Imported here: DRF imports this class while avatarsite.core.api is still importing DRF.)
            from avatarsite.core.api import RateLimit

            request.rate_limit = RateLimit(limit=settings.API_KEY_FAILURES_PER_MINUTE, remaining=0, reset_at=(window + 1) * 60)
            raise exceptions.Throttled(wait=(window + 1) * 60 - time.time(), detail="Too many invalid API keys from this address.")
        try:
            return self._credential(parts)
        except InvalidApiKey:
            counter_hit(failures_key, 61)
            raise

    def _credential(self, parts: list[bytes]) -> tuple[object, ApiCredential]:
        if len(parts) != 2:
            raise InvalidApiKey("Send exactly one key: Authorization: Bearer <key>.")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidApiKey("This is not an avatarsite API key (they look like avk_…).") from exc
        if api_key_prefix_of(raw_key) is None:
            raise InvalidApiKey("This is not an avatarsite API key (they look like avk_…).")
        try:
            credential = api_key_authenticate(raw_key=raw_key)
        except ApiAccessUnavailableError as exc:
            raise ApiAccessDenied(str(exc)) from exc
        if credential is None:
            raise InvalidApiKey("Unknown or revoked API key.")
        return credential.key.user, credential

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
