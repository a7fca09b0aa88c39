"""ASGI entry point: HTTP through Django, websockets through Channels (session auth, origin check)."""

import os

import django

from avatarsite.runtime.asgi import OneHopASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings.base")


# Django must be set up before anything imports models (the websocket routes do).
django.setup(set_prefix=False)
django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from avatarsite.core.websocket import UnroutedConsumer  # noqa: E402
from avatarsite.runtime.server_process import server_process_setup  # noqa: E402
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
