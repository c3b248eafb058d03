"""Which WebSockets are open for each session, and the one event subscription each session's sockets share."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol

from bridge3d.api.clients.events import EventSubscription
from bridge3d.api.jobs.manager import Job
from bridge3d.api.workers.sessions import Session

logger = logging.getLogger(__name__)

# Every subscribed socket is told when its backend goes away or comes back, whatever topics it chose.
ALWAYS_DELIVERED = ("backend.*", "session.*")
SESSION_ENDED_CLOSE_CODE = 1001  # "going away": the session (its scene, its events) is gone


class EventReceiver(Protocol):
    """What the channel needs of a session: its topic patterns and a non-blocking way to hand it an event."""

    topics: set[str]
    owner: str | None  # the API key's fingerprint: job events go to their owner's sockets only

    def deliver_event(self, params: dict[str, Any]) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


def topic_matches(topic: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(topic, pattern) for pattern in patterns)


class BackendChannel:
    """The open sockets of one session and the gateway's single event subscription to its host server.

    The subscription starts with the first socket that subscribes and keeps running (reconnecting by itself, to a
    replaced worker too) until the session ends or the gateway stops; each host event is handed to every socket
    whose patterns match, in arrival order.
    """

    def __init__(self, session: Session, *, max_connections: int) -> None:
        self.session = session
        self.max_connections = max_connections
        self.sessions: set[EventReceiver] = set()
        self._events: EventSubscription | None = None

    @property
    def app_name(self) -> str:
        return self.session.app

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
            self._events = EventSubscription(lambda: self.session.client, self.app_name)
            self._events.add_listener(self._fan_out)
            self._events.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events.connected.wait(), timeout=wait)
        return self._events.connected.is_set()

    def deliver(self, params: dict[str, Any]) -> None:
        self._fan_out(params)

    def _fan_out(self, params: dict[str, Any]) -> None:
        topic = str(params.get("topic", ""))
        always = topic_matches(topic, ALWAYS_DELIVERED)
        for session in list(self.sessions):
            if session.topics and (always or topic_matches(topic, session.topics)):
                session.deliver_event(params)

    async def close(self) -> None:
        if self._events is not None:
            await self._events.stop()
            self._events = None


class ConnectionManager:
    """One BackendChannel per session that has sockets; closed when the session ends and at shutdown."""

    def __init__(self, *, max_connections: int) -> None:
        self.max_connections = max_connections
        self.channels: dict[tuple[str, str], BackendChannel] = {}

    def channel(self, session: Session) -> BackendChannel:
        key = (session.app, session.id)
        channel = self.channels.get(key)
        if channel is None or channel.session is not session:
            channel = self.channels[key] = BackendChannel(session, max_connections=self.max_connections)
        return channel

    def active(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (app, _), channel in self.channels.items():
            counts[app] = counts.get(app, 0) + len(channel.sessions)
        return counts

    def session_event(self, session: Session, topic: str, data: dict[str, Any]) -> None:
        """A gateway event about a session (session.restored, session.lost) for its subscribed sockets."""
        channel = self.channels.get((session.app, session.id))
        if channel is not None:
            channel.deliver({"topic": topic, "seq": 0, "time": time.time(), "data": data})

    def job_event(self, topic: str, job: Job) -> None:
        """A job.* event for every socket of the job's owner that subscribed to it (whatever its session)."""
        params = {"topic": topic, "seq": 0, "time": time.time(), "data": job.describe()}
        for channel in self.channels.values():
            for receiver in list(channel.sessions):
                if receiver.owner == job.owner and receiver.topics and topic_matches(topic, receiver.topics):
                    receiver.deliver_event(params)

    async def session_ended(self, session: Session) -> None:
        """Close the ended session's sockets (they would only ever hear that its backend is down)."""
        channel = self.channels.pop((session.app, session.id), None)
        if channel is not None:
            for receiver in list(channel.sessions):
                receiver.close(SESSION_ENDED_CLOSE_CODE, "the session ended")
            await channel.close()

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
