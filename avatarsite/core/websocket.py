"""The websocket route of last resort: a path that matches no consumer is closed, not a 500 with a traceback."""

from channels.generic.websocket import AsyncWebsocketConsumer


class UnroutedConsumer(AsyncWebsocketConsumer):
    """Refuses the handshake (the server answers 403), as a consumer that turns a client away does;
    channels' router would raise instead ("No route found"), which the server logs as an error."""

    async def connect(self) -> None:
        await self.close()
