"""Websocket consumer that streams one job's progress to its owner."""

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .selectors import job_get_for_user, job_state

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
REFRESH_MIN_SECONDS = 1.0


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """Owner only. Sends the persisted state first, so a client that missed messages converges."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        job = await database_sync_to_async(job_get_for_user)(job_id=self.scope["url_route"]["kwargs"]["job_id"], user_id=user.pk)
        if job is None:
            # Someone else's job and a job that does not exist look the same.
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.job_id, self.group_name = job.pk, job.group_name
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(job_state)(job=job))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content: dict, **kwargs) -> None:
        """Clients only listen, except to ask for the current state again (a queued job's place
        in line moves without an event); anything else is ignored."""
        if isinstance(content, dict) and content.get("type") == "refresh":
            now = time.monotonic()
            if now - getattr(self, "refreshed_at", 0.0) < REFRESH_MIN_SECONDS:  # a chatty client costs no queries
                return
            self.refreshed_at = now
            job = await database_sync_to_async(job_get_for_user)(job_id=self.job_id, user_id=self.scope["user"].pk)
            if job is not None:
                await self.send_json(await database_sync_to_async(job_state)(job=job))

    async def decode_json(self, text_data: str) -> dict:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return {}

    async def job_state(self, event: dict) -> None:
        await self.send_json(event)
