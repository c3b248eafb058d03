"""/metrics, parsed with prometheus-client's own parser: the counters move as requests, sessions and jobs happen."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from envelope import error, ok
from gateway import Gateway
from polling import wait_job

from .conftest import end_session, in_session, new_session

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(api: httpx.Client, **headers: str) -> Samples:
    response = api.get("/metrics", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_sessions_workers_and_jobs(api: httpx.Client) -> None:
    before = scrape(api)
    route = {"route": "/api/v1/freecad/documents", "method": "GET"}
    session = new_session(api, "freecad")
    try:
        for _ in range(3):
            ok(api.get("/api/v1/freecad/documents", headers=in_session(session)))
        error(api.get("/api/v1/freecad/objects/Missing", headers=in_session(session)), 404)
        during = scrape(api)
        assert (
            value(during, "bridge3d_requests_total", **route, status="200")
            == value(before, "bridge3d_requests_total", **route, status="200") + 3
        )
        assert value(during, "bridge3d_request_duration_seconds_count", **route) >= 3
        missing = {"route": "/api/v1/freecad/objects/{name}", "method": "GET", "status": "404"}
        assert value(during, "bridge3d_requests_total", **missing) >= 1  # by template, never the raw path
        assert value(during, "bridge3d_sessions", app="freecad") >= 1
        assert value(during, "bridge3d_workers", app="freecad", role="session") >= 1

        job = ok(api.post("/api/v1/jobs", json={"kind": "batch", "app": "freecad", "steps": [
            {"method": "document.create", "params": {"name": "Counted"}}
        ]}), 202)  # fmt: skip
        assert wait_job(api, job["id"])["state"] == "succeeded"
        after = scrape(api)
        finished = {"kind": "batch", "state": "succeeded"}
        assert (
            value(after, "bridge3d_job_duration_seconds_count", **finished)
            == value(before, "bridge3d_job_duration_seconds_count", **finished) + 1
        )
        assert value(after, "bridge3d_jobs", state="succeeded") >= 1
        assert value(after, "bridge3d_job_queue_depth") == 0
    finally:
        end_session(api, "freecad", session)
    assert (
        value(scrape(api), "bridge3d_sessions", app="freecad") == value(during, "bridge3d_sessions", app="freecad") - 1
    )


def test_metrics_need_the_api_key_when_one_is_set(tight: Gateway) -> None:
    with httpx.Client(base_url=tight.url, timeout=30) as api:
        error(api.get("/metrics"), 401, "UNAUTHORIZED")
        assert value(scrape(api, **{"X-API-Key": "first"}), "bridge3d_job_queue_depth") >= 0
