"""The SDK against raw httpx, side by side: the same calls made with bridge3d.client and with a bare httpx.Client
(request, status check, JSON, the envelope's result), each over its own kept-alive connection, in alternating
blocks (measure.side_by_side).

    .venv/bin/python bench/sdk.py                  # 2000 calls a side (about 20 s)
    .venv/bin/python bench/sdk.py --tiny --json sdk.json

Three rows: GET one object and PATCH its location through the real gateway and Blender, and the same GET
against an in-process httpx.MockTransport, where no network or server noise hides what the SDK itself costs
(building the request, the envelope, the pydantic result). Target: the SDK adds at most 0.2 ms at p50.

For bench/run.py: ``sdk_vs_httpx(stack, sizes)`` is a figure function like those of figures.py; add
``"sdk": sdk_vs_httpx`` (``from sdk import sdk_vs_httpx``) to its FIGURES.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import httpx

from bridge3d.client import Client
from measure import Row, ms, percentile, side_by_side
from stack import Stack, run_alone

PROBE = "SdkBenchProbe"
TARGET_MS = 0.2
CANNED = {
    "status": "success",
    "result": {
        "name": PROBE,
        "type": "MESH",
        "location": [0.0, 0.0, 0.0],
        "rotation": [0.0, 0.0, 0.0],
        "scale": [1.0, 1.0, 1.0],
        "dimensions": [2.0, 2.0, 2.0],
        "bounds": {"min": [-1.0, -1.0, -1.0], "max": [1.0, 1.0, 1.0]},
        "visible": True,
        "rotation_mode": "XYZ",
        "vertices": 8,
        "faces": 6,
        "materials": [],
        "parent": None,
        "data": PROBE,
    },
}


def raw_result(response: httpx.Response) -> Any:
    """What a careful raw-httpx caller does with an answer: check the status, parse, take the result."""
    response.raise_for_status()
    return response.json()["result"]


def row(figure: str, sdk: list[float], raw: list[float]) -> Row:
    sdk_p50, raw_p50 = ms(percentile(sdk, 0.5)), ms(percentile(raw, 0.5))
    sdk_p99, raw_p99 = ms(percentile(sdk, 0.99)), ms(percentile(raw, 0.99))
    added = sdk_p50 - raw_p50
    return Row(
        figure,
        f"SDK p50 {sdk_p50:.3f} / p99 {sdk_p99:.3f} ms, httpx p50 {raw_p50:.3f} / p99 {raw_p99:.3f} ms "
        f"({added:+.3f} ms)",
        f"≤ +{TARGET_MS} ms p50",
        added <= TARGET_MS,
        {"sdk_p50_ms": sdk_p50, "sdk_p99_ms": sdk_p99, "httpx_p50_ms": raw_p50, "httpx_p99_ms": raw_p99},
    )


def compare(figure: str, sdk_call: Callable[[], Any], raw_call: Callable[[], Any], calls: int) -> Row:
    sdk, raw = side_by_side(sdk_call, raw_call, calls)
    return row(figure, sdk, raw)


def sdk_vs_httpx(stack: Stack, sizes: Any) -> list[Row]:
    """A figure of the suite: the SDK's cost over raw httpx, through the real stack and in-process."""
    calls: int = sizes.calls
    url = stack.gateway.url
    with Client(url) as client, httpx.Client(base_url=url) as http:
        if PROBE in names(client):  # left by a run that was interrupted
            client.blender.objects.delete(PROBE)
        client.blender.cube(name=PROBE)
        path = f"/api/v1/blender/objects/{PROBE}"
        rows = [
            compare(
                "SDK vs raw httpx: GET object",
                lambda: client.blender.objects.get(PROBE),
                lambda: raw_result(http.get(path)),
                calls,
            ),
            compare(
                "SDK vs raw httpx: PATCH object",
                lambda: client.blender.objects.transform(PROBE, location=(1.0, 2.0, 3.0)),
                lambda: raw_result(http.patch(path, json={"location": [1.0, 2.0, 3.0], "relative": False})),
                calls,
            ),
        ]
        client.blender.objects.delete(PROBE)
    rows.append(in_process(calls))
    return rows


def names(client: Client) -> set[str]:
    return {entry["name"] for entry in client.blender.objects.list(name_contains=PROBE).objects}


def in_process(calls: int) -> Row:
    """The SDK's own cost, without network or server: both sides answered by the same canned envelope."""
    body = json.dumps(CANNED).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    base = "http://bench.invalid"
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as for_sdk,
        httpx.Client(transport=httpx.MockTransport(answer), base_url=base) as http,
        Client(base, http_client=for_sdk) as client,
    ):
        return compare(
            "SDK vs raw httpx: in-process GET",
            lambda: client.blender.objects.get(PROBE),
            lambda: raw_result(http.get(f"/api/v1/blender/objects/{PROBE}")),
            calls * 5,
        )


def main(argv: list[str] | None = None) -> int:
    return run_alone(sdk_vs_httpx, __doc__, 2000, argv)


if __name__ == "__main__":
    sys.exit(main())
