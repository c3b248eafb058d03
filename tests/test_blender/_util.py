"""Helpers shared by the Blender tests."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from bridge3d.rpc import RpcClient, RpcError


def fetch(client: RpcClient, name: str, dest_dir: Path) -> Path:
    """Download a workspace file through file.read (chunked), as the gateway does."""
    target = dest_dir / name
    offset = 0
    with target.open("wb") as out:
        while True:
            chunk = client.call("file.read", {"name": name, "offset": offset, "length": 65536})
            data = base64.b64decode(chunk["data"])
            out.write(data)
            offset += len(data)
            if chunk["eof"]:
                break
    return target


def upload(client: RpcClient, name: str, data: bytes, chunk: int = 50_000) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for offset in range(0, max(len(data), 1), chunk):
        part = data[offset : offset + chunk]
        result = client.call(
            "file.write",
            {
                "name": name,
                "data": base64.b64encode(part).decode(),
                "offset": offset,
                "final": offset + chunk >= len(data),
            },
        )
    return result


_raw_ids = itertools.count(1)


def raw_call(client: RpcClient, method: str, params: dict[str, Any], timeout: float = 120.0) -> Any:
    """Call with Python's default json.dumps, which writes NaN/Infinity as bare literals.

    RpcClient.call refuses to encode them (allow_nan=False), but a client in
    another language may send them, so the server must answer InvalidParams.
    """
    request_id = f"raw-{next(_raw_ids)}"
    frame = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
    client.send_raw(frame.encode() + b"\n")
    while True:
        message = client.read_message(timeout=timeout)
        if isinstance(message, dict) and message.get("id") == request_id:
            if "error" in message:
                raise RpcError.from_dict(message["error"])
            return message.get("result")


def rpc_error(error_class: type[RpcError], client: RpcClient, method: str, params: dict[str, Any]) -> RpcError:
    """The error a call raises; sent raw so NaN and infinities reach the server as JSON literals."""
    with pytest.raises(error_class) as caught:
        raw_call(client, method, params)
    return caught.value


def approx_list(values: list[float], expected: list[float], tol: float = 1e-4) -> bool:
    return len(values) == len(expected) and all(abs(a - b) <= tol for a, b in zip(values, expected, strict=True))


def bounds(info: dict[str, Any]) -> tuple[list[float], list[float]]:
    return info["bounds"]["min"], info["bounds"]["max"]
