"""Live events as an iterator and an async iterator over the gateway's WebSocket."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bridge3d.client import AsyncClient, AuthenticationError, Client, Event, InvalidRequestError
from gateway import Gateway


def test_events_iterate_what_happens(client: Client) -> None:
    with client.blender.events("object.*") as events:
        client.blender.cube(name="SdkEvents")
        event = next(event for event in events if event.data.get("name") == "SdkEvents")
    assert isinstance(event, Event) and event.topic == "object.created" and event.seq is not None
    with client.freecad.events("document.*") as events:
        created = client.freecad.documents.create(name="SdkEvents").name
        first = events.get(timeout=10)
        client.freecad.documents.close(created)
        assert first.topic == "document.created" and first.data["document"] == created
        assert events.get(timeout=10).topic == "document.closed"


def test_events_of_an_async_client(gateway: Gateway) -> None:
    async def watch() -> list[Event]:
        async with AsyncClient(gateway.url) as sdk, sdk.blender.events("object.created", "object.deleted") as events:
            made = await sdk.blender.sphere(name="SdkAsyncEvents")
            await sdk.blender.objects.delete(made.object_id)
            seen: list[Event] = []
            async for event in events:
                if event.data.get("name") == "SdkAsyncEvents":
                    seen.append(event)
                if len(seen) == 2:
                    return seen
            return seen

    seen = asyncio.run(watch())
    assert [event.topic for event in seen] == ["object.created", "object.deleted"]


def test_a_listening_stream_is_kept_alive(lively_gateway: Gateway) -> None:
    """The gateway closes a socket that sends nothing for 1 s here; the stream answers heartbeats, so it lives."""
    url = lively_gateway.url.replace("http", "ws", 1) + "/ws/blender"
    with connect(url) as silent, pytest.raises(ConnectionClosed):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            silent.recv(timeout=5)
    with Client(lively_gateway.url) as client, client.blender.events("object.*") as events:
        with pytest.raises(TimeoutError):
            events.get(timeout=2.5)  # nothing happened, and the socket is still open
        client.blender.plane(name="SdkLively")
        assert events.get(timeout=10).data["name"] == "SdkLively"


def test_a_refused_handshake_raises_the_envelope_error(strict_gateway: Gateway) -> None:
    with Client(strict_gateway.url, api_key="wrong") as client, pytest.raises(AuthenticationError) as caught:
        client.blender.events()
    assert caught.value.status_code == 401 and caught.value.code == "UNAUTHORIZED"


def test_a_refused_subscription_raises_before_the_stream_is_returned(client: Client) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.blender.events("")
    assert caught.value.code == "VALIDATION_ERROR" and caught.value.errors[0]["field"] == "topics.0"
