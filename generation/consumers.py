"""Websocket consumer that streams one job's progress to its owner."""

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .models import GenerationJob
from .selectors import job_get_for_user, job_state

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
REFRESH_MIN_SECONDS = 1.0


def _owned_job_state(*, job_id, user_id: int) -> dict | None:
    """The job's state if it belongs to the user (one trip to the database thread); else None."""
    job = job_get_for_user(job_id=job_id, user_id=user_id)
    return None if job is None else job_state(job=job)


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """Owner only. Sends the persisted state first, so a client that missed messages converges."""

    accepted = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        group_name = GenerationJob(pk=job_id).group_name
        # Joined before the state is read, so nothing sent after that read is missed; left again
        # (and nothing forwarded, see job_state) when the job turns out to be someone else's.
        await self.channel_layer.group_add(group_name, self.channel_name)
        state = await database_sync_to_async(_owned_job_state)(job_id=job_id, user_id=user.pk)
        if state is None:
            # Someone else's job and a job that does not exist look the same.
            await self.channel_layer.group_discard(group_name, self.channel_name)
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.job_id, self.group_name = job_id, group_name
        await self.accept()
        self.accepted = True
        await self.send_json(state)

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
            state = await database_sync_to_async(_owned_job_state)(job_id=self.job_id, user_id=self.scope["user"].pk)
            if state is not None:
                await self.send_json(state)

    async def decode_json(self, text_data: str) -> dict:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return {}

    async def job_state(self, event: dict) -> None:
        if self.accepted:
            await self.send_json(event)
