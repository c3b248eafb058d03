"""Which WebSockets are open for each backend, and the one event subscription each backend's sockets share."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.clients.events import EventSubscription

logger = logging.getLogger(__name__)

# Every subscribed socket is told when its backend goes away or comes back, whatever topics it chose.
ALWAYS_DELIVERED = "backend.*"


class EventReceiver(Protocol):
    """What the channel needs of a session: its topic patterns and a non-blocking way to hand it an event."""

    topics: set[str]

    def deliver_event(self, params: dict[str, Any]) -> None: ...


def topic_matches(topic: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(topic, pattern) for pattern in patterns)


class BackendChannel:
    """The open sockets of one backend and the gateway's single event subscription to that host.

    The subscription starts with the first socket that subscribes and keeps running (reconnecting by itself)
    until the gateway stops; each host event is handed to every socket whose patterns match, in arrival order.
    """

    def __init__(self, client: BaseSocketClient, *, max_connections: int) -> None:
        self.client = client
        self.max_connections = max_connections
        self.sessions: set[EventReceiver] = set()
        self._events: EventSubscription | None = None

    @property
    def app_name(self) -> str:
        return self.client.app_name

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.max_connections

    def attach(self, session: EventReceiver) -> None:
        self.sessions.add(session)

    def detach(self, session: EventReceiver) -> None:
        self.sessions.discard(session)

    async def ensure_events(self, wait: float) -> bool:
        """Start the event subscription if needed; True once it is connected to the host (within ``wait`` s)."""
        if self._events is None:
            self._events = EventSubscription(self.client)
            self._events.add_listener(self._fan_out)
            self._events.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events.connected.wait(), timeout=wait)
        return self._events.connected.is_set()

    def _fan_out(self, params: dict[str, Any]) -> None:
        topic = str(params.get("topic", ""))
        always = fnmatch.fnmatchcase(topic, ALWAYS_DELIVERED)
        for session in list(self.sessions):
            if session.topics and (always or topic_matches(topic, session.topics)):
                session.deliver_event(params)

    async def close(self) -> None:
        if self._events is not None:
            await self._events.stop()
            self._events = None


class ConnectionManager:
    """One BackendChannel per backend; created with the app, closed at shutdown."""

    def __init__(self, clients: Iterable[BaseSocketClient], *, max_connections: int) -> None:
        self.channels = {client.app_name: BackendChannel(client, max_connections=max_connections) for client in clients}

    def active(self) -> dict[str, int]:
        return {name: len(channel.sessions) for name, channel in self.channels.items()}

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
