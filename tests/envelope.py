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


def download(api: httpx.Client, url: str) -> bytes:
    """GET a file URL from a result; assert 200 and return the bytes."""
    response = api.get(url)
    assert response.status_code == 200, response.text
    return response.content


def field_names(err: dict[str, Any]) -> set[str]:
    """The fields a validation error envelope names."""
    return {e["field"] for e in err["details"]["errors"]}
