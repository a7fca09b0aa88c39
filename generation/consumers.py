"""Websocket consumer that streams one job's progress to its owner."""

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .models import GenerationJob
from .payloads import job_state
from .selectors import job_get_for_user

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
REFRESH_MIN_SECONDS = 1.0
# A job only moves forward: queued, running, then an end. Messages from several processes may
# arrive out of order (a run's last report sent after the user's cancel, a message in flight when
# the saved state was read at connect): one that would move the page backwards is not forwarded.
STATUS_RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "canceled": 2}


def _older(state: dict, than: dict | None) -> bool:
    """Is `state` behind the last state sent (`than`)? An end never gives way to anything but
    itself (a succeeded job's later message adds its other sizes); a running job's progress
    never goes back."""
    if than is None:
        return False
    rank, last = STATUS_RANK.get(state.get("status"), 0), STATUS_RANK.get(than.get("status"), 0)
    if rank != last:
        return rank < last
    if rank == 2:
        return state.get("status") != than.get("status")
    return rank == 1 and state.get("progress", 0) < than.get("progress", 0)


def _owned_job_state(*, job_id, user_id: int) -> dict | None:
    """The job's state if it belongs to the user (one trip to the database thread); else None."""
    job = job_get_for_user(job_id=job_id, user_id=user_id)
    return None if job is None else job_state(job=job)


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """Owner only. Sends the persisted state first, so a client that missed messages converges."""

    accepted = False
    sent: dict | None = None  # the last state sent to this client

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
        await self._send_state(state)

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
                await self._send_state(state, saved=True)

    async def decode_json(self, text_data: str) -> dict:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return {}

    async def job_state(self, event: dict) -> None:
        if self.accepted:
            await self._send_state(event)

    async def _send_state(self, state: dict, *, saved: bool = False) -> None:
        """Send a state unless it is behind the last one sent. `saved`: read from the row now, the
        truth, sent whatever came before (it cannot be older than what a message carried)."""
        if saved or not _older(state, self.sent):
            self.sent = state
            await self.send_json(state)
