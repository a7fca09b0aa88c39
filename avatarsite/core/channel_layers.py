"""An in-process channel layer that Celery worker threads can publish to safely.

Channels' InMemoryChannelLayer keeps asyncio queues that belong to the web server's event loop.
A Celery task in the embedded worker thread calls ``async_to_sync(group_send)``, which runs on a
loop of its own; touching the server's queues from there is not thread-safe and may never wake
the waiting consumer. This layer hands such calls over to the loop that receives.
"""

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer


class EmbeddedChannelLayer(InMemoryChannelLayer):
    """InMemoryChannelLayer whose send/group_send from another thread run on the receiving loop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    def _foreign_home_loop(self) -> asyncio.AbstractEventLoop | None:
        """The receiving loop, if it is alive and is not the loop we are running on."""
        home = self._home_loop
        if home is None or home.is_closed() or not home.is_running():
            return None
        return None if home is asyncio.get_running_loop() else home

    async def receive(self, channel: str) -> dict:
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict) -> None:
        home = self._foreign_home_loop()
        if home is None:
            return await super().send(channel, message)
        future = asyncio.run_coroutine_threadsafe(super().send(channel, message), home)
        return await asyncio.wrap_future(future)

    async def group_send(self, group: str, message: dict) -> None:
        home = self._foreign_home_loop()
        if home is None:
            return await super().group_send(group, message)
        future = asyncio.run_coroutine_threadsafe(super().group_send(group, message), home)
        return await asyncio.wrap_future(future)
