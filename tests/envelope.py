"""Assertions on the gateway's response envelope."""

from __future__ import annotations

from typing import Any

import httpx


def ok(response: httpx.Response, status: int = 200) -> Any:
    """Assert a success envelope with the expected status; return its result."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "success", body
    return body["result"]


def error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert an error envelope with the expected status (and code); return its error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and set(body) == {"status", "error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return dict(body["error"])
