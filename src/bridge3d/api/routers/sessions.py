"""Sessions: POST/GET /api/v1/{app}/sessions, GET/DELETE /api/v1/{app}/sessions/{id}.

Every other route of the application acts in the session its request names (deps.SESSION_HEADER or ?session=).
"""
# No `from __future__ import annotations`: FastAPI resolves the annotations of the routes built inside a function.

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, Field

from bridge3d.api.deps import OwnerDep, SessionsDep
from bridge3d.api.errors import StateConflictError
from bridge3d.api.models.responses import APIResponse, SessionEnded, SessionInfo, SessionList
from bridge3d.api.workers.sessions import SESSION_ID_PATTERN
from bridge3d.commands.schema import NAME_PATTERN


class SessionCreate(BaseModel):
    label: str | None = Field(None, max_length=63, pattern=NAME_PATTERN, description="a name for people to read")


SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="a session id, or `default`")]


def build_router(app: str) -> APIRouter:
    router = APIRouter(prefix=f"/api/v1/{app}/sessions", tags=[app])

    @router.post("", name="create_session", status_code=201, response_model=APIResponse[SessionInfo])
    async def create_session(
        sessions: SessionsDep,
        owner: OwnerDep,
        response: Response,
        body: Annotated[SessionCreate | None, Body()] = None,
    ) -> APIResponse[SessionInfo]:
        """A new session on a worker of its own (from the warm spares: ready at once when one is idle).
        Send its id in the X-Bridge3D-Session header (or ?session=) to act in it."""
        session = await sessions.create(app, owner, label=body.label if body else None)
        response.headers["Location"] = f"/api/v1/{app}/sessions/{session.id}"
        return APIResponse(result=SessionInfo.model_validate(session.describe()))

    @router.get("", name="list_sessions", response_model=APIResponse[SessionList])
    async def list_sessions(sessions: SessionsDep, owner: OwnerDep) -> APIResponse[SessionList]:
        """The default session and the sessions of your API key."""
        listed = [SessionInfo.model_validate(session.describe()) for session in sessions.listed(app, owner)]
        return APIResponse(result=SessionList(sessions=listed))

    @router.get("/{session_id}", name="get_session", response_model=APIResponse[SessionInfo])
    async def get_session(sessions: SessionsDep, owner: OwnerDep, session_id: SessionId) -> APIResponse[SessionInfo]:
        """One session (404 for an unknown one, or one of another API key)."""
        return APIResponse(result=SessionInfo.model_validate(sessions.find(app, session_id, owner).describe()))

    @router.delete("/{session_id}", name="end_session", response_model=APIResponse[SessionEnded])
    async def end_session(sessions: SessionsDep, owner: OwnerDep, session_id: SessionId) -> APIResponse[SessionEnded]:
        """End a session: its worker stops, its scene and workspace files are gone."""
        session = sessions.find(app, session_id, owner)
        if session.is_default:
            raise StateConflictError("The default session cannot be ended", {"session": session_id})
        await sessions.end(session)
        return APIResponse(result=SessionEnded(id=session_id))

    return router
