"""The address a request came from, as the rate limits count it."""

from django.conf import settings
from rest_framework.throttling import BaseThrottle


def client_address(request) -> str:
    """X-Forwarded-For counts only behind configured proxies (NUM_PROXIES): clients can forge it."""
    if settings.NUM_PROXIES:
        return BaseThrottle().get_ident(request)
    return request.META.get("REMOTE_ADDR", "")
