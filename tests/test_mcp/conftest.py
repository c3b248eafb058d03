"""MCP against the real stack, with the SDK's own MCP client: Streamable HTTP to ``/mcp`` of a live gateway, and
stdio to a spawned ``bridge3d mcp`` talking to that gateway.

``mcp_gateway`` has the session's real headless backends and worker pools (a warm spare of each application, so an
MCP connection's sessions are ready at once, and job workers for renders, conversions and ``look``);
``strict_gateway`` has an API key, code execution off and no application at all: what it refuses needs none.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import numpy as np
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from backends import Backend, free_port
from gateway import Gateway, start_gateway

STRICT_KEY = "mcp-test-key"
PATIENCE = 180.0  # seconds a call of real work may take on a loaded 2-core machine
BRIDGE3D = Path(sys.executable).with_name("bridge3d")


@pytest.fixture(scope="session")
def mcp_gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("mcp-gateway")
    env = {
        "BRIDGE3D_BLENDER__WARM_SPARES": "1",
        "BRIDGE3D_FREECAD__WARM_SPARES": "1",
        "BRIDGE3D_BLENDER__WORKERS": "6",  # an MCP connection's session and scratch session, two more at once
    }
    server = start_gateway(tmp, blender_backend, freecad_backend, extra_env=env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("mcp-strict-gateway")
    env = {"BRIDGE3D_API_KEY": STRICT_KEY, "BRIDGE3D_ALLOW_EXECUTE": "false", "BRIDGE3D_MCP_EXECUTE": "true"}
    for app in ("BLENDER", "FREECAD"):
        env |= {f"BRIDGE3D_{app}__{setting}": "0" for setting in ("WARM_SPARES", "WORKERS", "JOB_WORKERS")}
    server = start_gateway(tmp, None, None, extra_env=env, blender_port=free_port(), freecad_port=free_port())
    yield server
    server.stop()


@dataclass
class Session:
    """An MCP client session that records what it called and the progress it was told."""

    client: Client
    called: set[str] = field(default_factory=set)
    progress: list[tuple[float, float | None, str | None]] = field(default_factory=list)

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> types.CallToolResult:
        self.called.add(name)

        async def record(progress: float, total: float | None, message: str | None) -> None:
            self.progress.append((progress, total, message))

        return await self.client.call_tool(
            name, arguments or {}, read_timeout_seconds=PATIENCE, progress_callback=record
        )

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON a successful call answered (the test fails with the tool's error otherwise)."""
        result = await self.call(name, arguments)
        assert not result.is_error, f"{name}{arguments}: {text_of(result)}"
        data = json.loads(text_of(result))
        assert result.structured_content == data
        return dict(data)

    async def error(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """The error (code, message, details) a call was answered with as a tool error."""
        result = await self.call(name, arguments)
        assert result.is_error, f"{name}{arguments} succeeded: {text_of(result)}"
        assert isinstance(result.structured_content, dict)
        error = result.structured_content["error"]
        assert text_of(result).startswith(f"{error['code']}: {error['message']}")
        return dict(error)


def text_of(result: types.CallToolResult) -> str:
    texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    assert texts, result
    return texts[0]


def image_of(result: types.CallToolResult) -> Image.Image:
    images = [block for block in result.content if isinstance(block, types.ImageContent)]
    assert len(images) == 1, [block.type for block in result.content]
    image = Image.open(io.BytesIO(base64.b64decode(images[0].data)))
    assert image.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[images[0].mime_type]
    return image.convert("RGB")


def pixels(image: Image.Image) -> np.ndarray[Any, np.dtype[np.int16]]:
    return np.asarray(image, dtype=np.int16)


def red_mask(area: np.ndarray[Any, np.dtype[np.int16]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Where a pixel is clearly red (the red cube's faces, lit or shaded)."""
    red, green, blue = area[..., 0], area[..., 1], area[..., 2]
    return (red > 90) & (red > 2 * green) & (red > 2 * blue)


def assert_not_flat(image: Image.Image) -> None:
    assert pixels(image).std() > 10, "the image is one flat colour"


def http_headers(key: str | None = None, origin: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return headers | ({"Origin": origin} if origin else {})


@asynccontextmanager
async def over_http(url: str, *, key: str | None = None, mode: str = "auto") -> AsyncIterator[Session]:
    """An MCP session with ``url``/mcp over Streamable HTTP (ended with a DELETE when the block ends)."""
    async with (
        httpx2.AsyncClient(headers=http_headers(key), timeout=httpx2.Timeout(PATIENCE)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield Session(client)


def stdio_parameters(url: str, **env: str) -> StdioServerParameters:
    """`bridge3d mcp` against the gateway at ``url``, with BRIDGE3D_MCP_* from ``env``."""
    return StdioServerParameters(
        command=str(BRIDGE3D),
        args=["mcp"],
        env={"BRIDGE3D_URL": url, "PATH": os.environ.get("PATH", ""), **env},
    )


@asynccontextmanager
async def over_stdio(url: str, **env: str) -> AsyncIterator[Session]:
    async with Client(stdio_parameters(url, **env)) as client:
        yield Session(client)
