"""What every request carries (key, session, user agent), scoped clients over one pool, a caller's own httpx."""

from __future__ import annotations

import httpx

from bridge3d.client import SESSION_HEADER, Client
from bridge3d.client._transport import USER_AGENT
from gateway import Gateway


def test_scoped_clients_share_the_pool_and_add_their_headers(gateway: Gateway) -> None:
    sent: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [sent.append]}) as http:
        client = Client(gateway.url, api_key="k", http_client=http)
        client.version()
        in_session = client.with_session("s-1234")
        in_session.version()
        in_session.blender.with_session("s-5678").health()
        slow = client.with_options(timeout=600, max_retries=0)
        slow.version()
        client.close()
        assert not http.is_closed  # the caller's client is the caller's to close
    first, scoped, app_scoped, unscoped = sent
    assert first.headers["authorization"] == "Bearer k" and SESSION_HEADER not in first.headers
    assert first.headers["user-agent"] == USER_AGENT and USER_AGENT.startswith("bridge3d-python/0.")
    assert scoped.headers[SESSION_HEADER] == "s-1234" and app_scoped.headers[SESSION_HEADER] == "s-5678"
    assert SESSION_HEADER not in unscoped.headers and unscoped.extensions["timeout"]["read"] == 600
    assert in_session.blender._transport.settings.websocket_url("blender").endswith("/ws/blender?session=s-1234")


def test_defaults() -> None:
    client = Client()
    assert client.base_url.startswith("http") and repr(client) == f"Client(base_url={client.base_url!r})"
    client.close()
