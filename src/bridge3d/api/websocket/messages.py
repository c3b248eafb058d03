"""The WebSocket message protocol: what clients may send, and the shapes the server sends back.

Every message is one JSON object with a ``type``. Client messages are validated
here (unknown fields are errors, like the REST models); a message that fails
gets an ``error`` reply naming the field and the reason, and the socket stays open.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class Model(BaseModel):
    """Client messages refuse unknown fields, as REST bodies do: a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


MessageId = Annotated[
    str | int,
    Field(description="chosen by the client; echoed on the reply", examples=["run-1", 7]),
]
TopicPattern = Annotated[
    str,
    Field(min_length=1, max_length=200, description="a topic or a shell-style pattern: object.*, render.*, *"),
]
Topics = Annotated[list[TopicPattern], Field(min_length=1, max_length=100)]


class ExecuteMessage(Model):
    type: Literal["execute"]
    id: MessageId
    code: str = Field(min_length=1, description="Python source run inside the application")
    timeout: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="seconds, at most BRIDGE3D_MAX_EXECUTE_TIMEOUT; the backend's call timeout (capped) when omitted",
    )


class CancelMessage(Model):
    type: Literal["cancel"]
    id: MessageId = Field(description="the id of the execute to cancel")


class SubscribeMessage(Model):
    type: Literal["subscribe"]
    id: MessageId | None = None
    topics: Topics


class UnsubscribeMessage(Model):
    type: Literal["unsubscribe"]
    id: MessageId | None = None
    topics: Topics | None = Field(None, description="patterns to drop; all of them when omitted")


class PingMessage(Model):
    type: Literal["ping"]
    id: MessageId | None = None


ClientMessage = Annotated[
    ExecuteMessage | CancelMessage | SubscribeMessage | UnsubscribeMessage | PingMessage,
    Field(discriminator="type"),
]
MESSAGE_TYPES = ("execute", "cancel", "subscribe", "unsubscribe", "ping")
_client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class BadMessage(Exception):
    """A client message that cannot be acted on; becomes an ``error`` reply, the socket stays open."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, message_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.message_id = message_id


def parse_client_message(raw: str) -> ClientMessage:
    """One validated client message, or BadMessage saying exactly what is wrong."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadMessage("INVALID_JSON", f"The message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessage("INVALID_MESSAGE", "A message must be a JSON object with a 'type'")
    message_id = data.get("id") if isinstance(data.get("id"), str | int) else None
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        raise BadMessage(
            "UNKNOWN_TYPE",
            f"Unknown message type {kind!r}; expected one of: {', '.join(MESSAGE_TYPES)}",
            {"field": "type", "accepted": list(MESSAGE_TYPES)},
            message_id,
        )
    try:
        return _client_message.validate_python(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(part) for part in error["loc"][1:]) or "message", "reason": error["msg"]}
            for error in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        raise BadMessage(
            "VALIDATION_ERROR", f"Invalid {kind} message: {summary}", {"errors": errors}, message_id
        ) from None


def error_message(
    code: str, message: str, details: dict[str, Any] | None = None, message_id: Any = None
) -> dict[str, Any]:
    """The error reply; same ``code``/``message``/``details`` as the REST envelope."""
    return {"type": "error", "id": message_id, "error": {"code": code, "message": message, "details": details or {}}}


def result_message(message_id: Any, result: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "result", "id": message_id, "result": result, **extra}


def event_message(params: dict[str, Any]) -> dict[str, Any]:
    """A host event notification ({topic, seq, time, data}) as the client sees it."""
    return {
        "type": "event",
        "topic": params.get("topic"),
        "seq": params.get("seq"),
        "time": params.get("time"),
        "data": params.get("data", {}),
    }


def heartbeat_message() -> dict[str, Any]:
    return {"type": "heartbeat", "time": time.time()}


def pong_message(message_id: Any) -> dict[str, Any]:
    return {"type": "pong", "id": message_id, "time": time.time()}
