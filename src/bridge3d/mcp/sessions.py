"""The bridge3d sessions one MCP connection works in: an agent's objects never land in anyone else's scene.

With the ``connection`` policy (the default) the first tool call that needs an application creates a session of
that application (a worker of its own, from the gateway's warm spares), and every later call of the connection
acts in it; ``close()`` ends them when the MCP connection ends (the gateway's idle expiry ends what a vanished
client leaves). With ``default`` every connection acts in the gateway's default session. Drawing a FreeCAD
document (the ``look`` tool) uses a scratch Blender session of the connection's own in either case.
"""

from __future__ import annotations

import logging

import anyio

from bridge3d.client import AsyncClient, Bridge3DError, NotFoundError

from .options import SessionPolicy

logger = logging.getLogger("bridge3d.mcp")

SCRATCH = "scratch"  # the Blender session that draws FreeCAD documents
MAX_LABEL_CHARS = 63
CLOSE_SECONDS = 30.0  # ending sessions at the end of a connection never holds the server up longer


class SessionScope:
    """Sessions of one MCP connection, created on first use."""

    def __init__(self, gateway: AsyncClient, policy: SessionPolicy, label: str = "mcp") -> None:
        self.gateway = gateway
        self.policy = policy
        self.label = label[:MAX_LABEL_CHARS]
        self.created: dict[str, str] = {}  # blender / freecad / scratch -> the session id this connection made
        self._clients: dict[str, AsyncClient] = {}  # session id -> a client acting in it (one per session, kept)
        self._locks = {purpose: anyio.Lock() for purpose in ("blender", "freecad", SCRATCH)}
        self.closed = False

    async def session_id(self, app: str) -> str | None:
        """The session the connection's calls to ``app`` act in; None for the gateway's default session."""
        if self.policy == "default":
            return None
        return await self._ensure(app)

    async def client(self, app: str) -> AsyncClient:
        """A gateway client whose ``app`` requests act in the connection's session of ``app``."""
        session = await self.session_id(app)
        return self.gateway if session is None else self._in(session)

    async def scratch(self) -> AsyncClient:
        """A client of the connection's scratch Blender session (for drawing FreeCAD documents)."""
        return self._in(await self._ensure(SCRATCH))

    def _in(self, session: str) -> AsyncClient:
        client = self._clients.get(session)
        if client is None:
            client = self._clients[session] = self.gateway.with_session(session)
        return client

    async def drop_scratch(self) -> None:
        """End the scratch session (after a cancelled drawing: ending its worker stops a render under way)."""
        session = self.created.pop(SCRATCH, None)
        if session is not None:
            await self._end("blender", session)

    async def _ensure(self, purpose: str) -> str:
        async with self._locks[purpose]:
            if self.closed:
                raise Bridge3DError("The MCP connection has ended", code="SESSION_ENDED")
            existing = self.created.get(purpose)
            if existing is not None:
                return existing
            app = "blender" if purpose == SCRATCH else purpose
            sessions = self.gateway.blender.sessions if app == "blender" else self.gateway.freecad.sessions
            label = self.label if purpose != SCRATCH else f"{self.label} (drawing)"[:MAX_LABEL_CHARS]
            info = await sessions.create(label=label)
            self.created[purpose] = info.id
            logger.info("MCP connection %r works in %s session %s (%s)", self.label, app, info.id, purpose)
            return info.id

    async def close(self) -> None:
        """End every session this connection created (each once; a session that expired already is fine)."""
        self.closed = True
        created, self.created = self.created, {}
        with anyio.move_on_after(CLOSE_SECONDS, shield=True):
            for purpose, session in created.items():
                await self._end("blender" if purpose == SCRATCH else purpose, session)

    async def _end(self, app: str, session: str) -> None:
        sessions = self.gateway.blender.sessions if app == "blender" else self.gateway.freecad.sessions
        try:
            await sessions.end(session)
            logger.info("ended %s session %s of MCP connection %r", app, session, self.label)
        except NotFoundError:
            pass  # it expired or was ended elsewhere: what ending it was for
        except Bridge3DError as error:
            logger.warning("could not end %s session %s: %s (idle expiry will)", app, session, error)
