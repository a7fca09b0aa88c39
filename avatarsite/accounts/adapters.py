"""allauth adapter: the client address the login rate limits count, as the API throttles see it."""

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from avatarsite.core.client_address import client_address


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        # One definition of "the address a request came from" for every rate limit: X-Forwarded-For
        # only behind DJANGO_NUM_PROXIES trusted proxies, or any client could pick a fresh address.
        address = client_address(request)
        if not address:
            raise PermissionDenied("Unable to determine the client's address")
        return address
