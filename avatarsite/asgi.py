"""ASGI entry point: HTTP through Django, websockets through Channels (session auth, origin check)."""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings.base")


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
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


# Django must be set up before anything imports models (the websocket routes do).
django.setup(set_prefix=False)
django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from avatarsite.core.server_process import server_process_setup  # noqa: E402
from avatarsite.core.websocket import UnroutedConsumer  # noqa: E402
from generation.routing import websocket_urlpatterns as generation_websockets  # noqa: E402

# Last: any other path is refused cleanly.
websocket_urlpatterns = [*generation_websockets, re_path(r"", UnroutedConsumer.as_asgi())]


async def lifespan(scope, receive, send) -> None:
    """The server process's start and stop (uvicorn --lifespan on, as the image runs it): at the
    start, before the first request, it is set up (lifelong objects made and frozen: see that module)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            server_process_setup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "lifespan": lifespan,
    }
)
