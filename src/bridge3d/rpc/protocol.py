"""The JSON-RPC 2.0 envelope and newline framing shared by servers and clients."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import InternalError, InvalidRequest, ParseError, RpcError

JSONRPC_VERSION = "2.0"
DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024
FRAME_DELIMITER = b"\n"

RequestId = str | int | None


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    id: RequestId = None
    is_notification: bool = False


def encode_frame(message: dict[str, Any]) -> bytes:
    """Serialise one message as a compact JSON line.

    NaN and infinities are not JSON; a result holding one is a server bug
    reported as an internal error rather than an unparsable frame.
    """
    try:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        if "error" in message or "result" not in message:
            raise
        fallback = error_response(message.get("id"), InternalError(f"result is not JSON-serialisable: {exc}"))
        text = json.dumps(fallback, separators=(",", ":"))
    return text.encode("utf-8") + FRAME_DELIMITER


def decode_frame(line: bytes) -> Any:
    """Parse one received line; anything that is not JSON is a ParseError."""
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"Parse error: {exc}") from None
    except RecursionError:
        # json's C decoder recurses once per nested array or object; the interpreter's limit ends it.
        raise ParseError("Parse error: the JSON is nested too deeply") from None


def parse_request(message: Any) -> Request:
    """Validate a decoded message as a single JSON-RPC 2.0 request."""
    if isinstance(message, list):
        raise InvalidRequest("Batch requests are not supported; send one request per line")
    if not isinstance(message, dict):
        raise InvalidRequest("A request must be a JSON object")
    if message.get("jsonrpc") != JSONRPC_VERSION:
        raise InvalidRequest('"jsonrpc" must be exactly "2.0"')
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise InvalidRequest('"method" must be a non-empty string')
    is_notification = "id" not in message
    request_id = message.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (str, int))):
        raise InvalidRequest('"id" must be a string, an integer or null')
    params = message.get("params", {})
    if isinstance(params, list):
        raise InvalidRequest("Positional params are not supported; send params as an object")
    if not isinstance(params, dict):
        raise InvalidRequest('"params" must be an object')
    return Request(method=method, params=params, id=request_id, is_notification=is_notification)


def request_message(method: str, params: dict[str, Any] | None, request_id: RequestId) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "method": method, "id": request_id}
    if params:
        message["params"] = params
    return message


def notification_message(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC_VERSION, "method": method, "params": params}


def result_response(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC_VERSION, "result": result, "id": request_id}


def error_response(request_id: RequestId, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC_VERSION, "error": error.to_dict(), "id": request_id}


def id_of(message: Any) -> RequestId:
    """Best-effort id of a message that failed validation (null when unknown)."""
    if isinstance(message, dict):
        request_id = message.get("id")
        if isinstance(request_id, (str, int)) and not isinstance(request_id, bool):
            return request_id
    return None
