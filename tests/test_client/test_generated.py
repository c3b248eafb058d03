"""The SDK's typed code is generated from the command schema and the gateway's routes, and stays so: the
generated files are what the generator writes now, every operation is on both clients, and the signatures are
real to mypy (the examples check, mistakes are caught)."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge3d.client import AsyncBlenderSession, AsyncClient, AsyncSessionStart, BlenderSession, Client
from bridge3d.client._generate import ROOT, methods, sdk_methods, stale_files


def test_the_generated_files_are_up_to_date() -> None:
    stale = [str(path.relative_to(ROOT)) for path in stale_files()]
    assert not stale, f"stale generated files {stale}: run .venv/bin/python -m bridge3d.client._generate"


def test_the_table_names_every_generated_method() -> None:
    written = [method.spec.location for method in methods()]
    written += [f"{method.resource}.{method.spec.read}" for method in methods() if method.spec.read is not None]
    assert sorted(sdk_methods()) == sorted(written)


def method(owner: object, place: str) -> object:
    for part in place.split("."):
        owner = getattr(owner, part)
    return owner


@pytest.mark.parametrize("place", sorted(sdk_methods()))
def test_every_operation_is_a_method_of_both_clients(place: str) -> None:
    sync = method(Client("http://127.0.0.1:1"), place)
    asynchronous = method(AsyncClient("http://127.0.0.1:1"), place)
    assert callable(sync) and not inspect.iscoroutinefunction(sync)
    assert inspect.iscoroutinefunction(asynchronous)
    sync_signature, async_signature = inspect.signature(sync), inspect.signature(asynchronous)
    assert sync_signature.parameters == async_signature.parameters
    # The same result, as the async client's class where it has one of its own (AsyncJob for Job).
    assert str(async_signature.return_annotation).replace("AsyncJob", "Job") == sync_signature.return_annotation
    assert (inspect.getdoc(sync) or "").strip(), f"{place} has no docstring"


def test_sessions_are_the_application_with_an_id() -> None:
    """``client.blender.session()`` / ``with_session`` hand out the application's operations in a session."""
    sync, asynchronous = Client("http://127.0.0.1:1"), AsyncClient("http://127.0.0.1:1")
    scene = sync.blender.with_session("ses_0123456789abcdef")
    assert isinstance(scene, BlenderSession) and scene.id == "ses_0123456789abcdef" and callable(scene.cube)
    assert scene._transport.settings.websocket_url("blender").endswith("/ws/blender?session=ses_0123456789abcdef")
    assert isinstance(asynchronous.blender.with_session("ses_0123456789abcdef"), AsyncBlenderSession)
    assert inspect.signature(sync.blender.session).return_annotation == "BlenderSession"
    starting = asynchronous.blender.session(label="never-awaited")  # nothing is sent until awaited or entered
    assert isinstance(starting, AsyncSessionStart)


def test_signatures_carry_the_schema() -> None:
    cube = inspect.signature(Client("http://127.0.0.1:1").blender.cube)
    assert all(param.kind is inspect.Parameter.KEYWORD_ONLY for param in cube.parameters.values())
    assert cube.parameters["size"].default == 2.0 and cube.parameters["size"].annotation == "float"
    assert cube.parameters["location"].annotation == "tuple[float, float, float]"
    render = inspect.signature(Client("http://127.0.0.1:1").blender.render)
    assert render.parameters["engine"].annotation == "Literal['EEVEE', 'CYCLES', 'WORKBENCH']"
    assert render.parameters["engine"].default == "WORKBENCH"
    assert render.return_annotation == "models.FileInfo"
    subtract = inspect.signature(Client("http://127.0.0.1:1").freecad.boolean.subtract)
    assert [name for name, param in subtract.parameters.items() if param.default is inspect.Parameter.empty] == [
        "object1",
        "object2",
    ]
    assert "operation" not in subtract.parameters  # it may only repeat the URL: the SDK never sends it


MISTAKES = {
    'client.blender.cube(size="big")': r'Argument "size" .* incompatible type "str"; expected "float"',
    "client.blender.cube(sise=2)": r'Unexpected keyword argument "sise"',
    'client.blender.render(format="GIF")': r'Argument "format" .* incompatible type "Literal\[\'GIF\'\]"',
    'client.freecad.boolean.subtract(object1="Box")': r'Missing named argument "object2"',
    "count: int = client.blender.cube().object_id": r'Incompatible types in assignment \(expression has type "str"',
    'client.blender.objects.get("Cube").faces.upper()': r'"int" has no attribute "upper"',
    'asyncio.run(AsyncClient().blender.sphere(radius="1"))': r'Argument "radius" .* incompatible type "str"',
    'client.jobs.render(samples="many")': r'Argument "samples" to "render" of "Jobs" has incompatible type "str"',
    'client.jobs.batch("blender", [{"method": "document.create"}])': r'No overload variant of "batch" of "Jobs"',
    'client.jobs.convert(file="part.step", format="DOCX")': r'Argument "format" .* type "Literal\[\'DOCX\'\]"',
    'state: int = client.jobs.get("job_0").wait().state': r"Incompatible types in assignment .*Literal\['queued'",
    "client.blender.session(label=1)": r'Argument "label" to "session" of "Blender" has incompatible type "int"',
}


def test_mypy_checks_user_code_with_the_real_signatures(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cache = request.config.cache.mkdir("bridge3d-sdk-mypy") if request.config.cache else tmp_path
    probe = cache / "sdk_probe.py"  # one place: mypy's cache remembers each module's errors with its path
    lines = ["import asyncio", "from bridge3d.client import AsyncClient, Client", "client = Client()", *MISTAKES]
    probe.write_text("\n".join(lines) + "\n")
    shown = os.path.relpath(probe, ROOT)  # mypy names files as given, relative to its working directory
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--warn-return-any",
            "--disallow-any-generics",
            "--cache-dir",
            str(cache / "mypy"),
            "examples",
            shown,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    assert not [line for line in errors if not line.startswith(shown)], "the examples must check:\n" + done.stdout
    for number, (statement, expected) in enumerate(MISTAKES.items(), start=len(lines) - len(MISTAKES) + 1):
        on_line = [line for line in errors if line.startswith(f"{shown}:{number}:")]
        assert any(re.search(expected, line) for line in on_line), textwrap.dedent(
            f"mypy missed the mistake in {statement!r}; it said:\n{done.stdout}"
        )
