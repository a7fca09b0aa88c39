"""Django's ASGI handler with the middleware chain and the view run in one trip to the sync thread."""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

from . import upstream


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware chain and the view run synchronously in one trip
    to the sync thread per request.

    The stock handler builds an async chain; each middleware that cannot run async (WhiteNoise)
    turns it sync below it, and each MiddlewareMixin in async mode sends its process_request and
    process_response to the sync thread on their own: about a dozen thread hops per request, 1.5 to
    2 ms of pure overhead, on every page and on the generate form's POST. Our views are sync (an
    async one, /healthz, still works: Django runs it through async_to_sync, on this event loop)."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        upstream.middleware_chain_wrap(self, lambda chain: sync_to_async(chain, thread_sensitive=True))
