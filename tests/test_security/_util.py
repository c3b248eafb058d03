"""Helpers for the security suite: raw HTTP (exact bytes on the wire), multipart bodies, file-tree snapshots."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gateway import Gateway

APPS = ("blender", "freecad")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(base_url: str, request: bytes, timeout: float = 30.0) -> RawResponse:
    """Send ``request`` byte for byte (no client-side normalisation of paths or headers) and read the answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])
        }
        if status == 101:
            return RawResponse(status, headers, b"")
        length = int(headers.get("content-length", "-1"))
        while length < 0 or len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return RawResponse(status, headers, body)


def raw_get(base_url: str, target: str, host: str | None, extra: str = "") -> RawResponse:
    """GET ``target`` exactly as given, with ``host`` as the Host header (None: no Host header at all)."""
    host_line = "" if host is None else f"Host: {host}\r\n"
    request = f"GET {target} HTTP/1.1\r\n{host_line}{extra}Connection: close\r\n\r\n"
    return raw_request(base_url, request.encode("latin-1"))


def websocket_handshake(base_url: str, path: str, host: str, extra: str = "") -> RawResponse:
    extra += (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    return raw_request(base_url, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode("latin-1"))


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one `file` part whose filename is sent as raw UTF-8, unescaped."""
    boundary = "bridge3d-security-boundary"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename.encode("utf-8", "surrogateescape")
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def upload(api: httpx.Client, path: str, filename: str, content: bytes) -> httpx.Response:
    body, content_type = multipart(filename, content)
    return api.post(path, content=body, headers={"content-type": content_type})


def ascii_stl(name: str = "tetra", size: float = 1.0) -> bytes:
    """A closed tetrahedron (FreeCAD's STL reader wants a real mesh, not a lone triangle)."""
    corners = [(0, 0, 0), (size, 0, 0), (0, size, 0), (0, 0, size)]
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    facets = "".join(
        "facet normal 0 0 0\nouter loop\n"
        + "".join("vertex {} {} {}\n".format(*corners[i]) for i in face)
        + "endloop\nendfacet\n"
        for face in faces
    )
    return f"solid {name}\n{facets}endsolid {name}\n".encode()


def binary_stl(triangles: int) -> bytes:
    """A valid binary STL of ``triangles`` identical triangles (84 + 50 bytes each)."""
    facet = struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
    return b"\0" * 80 + struct.pack("<I", triangles) + facet * triangles


Snapshot = dict[str, tuple[int, int]]


def snapshot(root: Path, skip: list[Path]) -> Snapshot:
    """Every file and symlink under ``root`` (not following links) with size and mtime, except the ``skip`` trees
    and log files (the running servers append to their logs)."""
    skipped = {str(p.resolve()) for p in skip}
    found: Snapshot = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if str(Path(folder, d).resolve()) not in skipped]
        for name in files + [d for d in dirs if Path(folder, d).is_symlink()]:
            path = Path(folder, name)
            if name.endswith(".log"):
                continue
            info = path.lstat()
            found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


def names_containing(root: Path, marker: str, recursive: bool) -> list[str]:
    """Entries under ``root`` whose name contains ``marker`` (the hostile names all carry it)."""
    if not root.is_dir():
        return []
    if not recursive:
        return [str(p) for p in root.iterdir() if marker in p.name]
    return [str(Path(folder, n)) for folder, dirs, files in os.walk(root) for n in dirs + files if marker in n]


def non_loopback_address() -> str | None:
    """An address of this machine other than loopback (a routed UDP 'connect' sends nothing), or None."""
    for target in ("192.0.2.1", "10.255.255.255", "198.51.100.1"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))
                address = str(probe.getsockname()[0])
        except OSError:
            continue
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


@contextmanager
def recording_client(gateway: Gateway, seen: list[bytes], timeout: float = 300) -> Iterator[httpx.Client]:
    """An HTTP client that keeps every response body in ``seen`` (to prove no canary ever came back)."""

    def remember(response: httpx.Response) -> None:
        response.read()
        seen.append(response.content)

    with httpx.Client(base_url=gateway.url, timeout=timeout, event_hooks={"response": [remember]}) as client:
        yield client
