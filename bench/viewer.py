"""The live viewer (/viewer) on a 1,000-object Blender scene, in headless Chromium (tests/browser.py).

Starts headless Blender, FreeCAD and the gateway (bench/stack.py), adds N cubes (default 1,000) with their own
meshes, opens the viewer and measures end to end, from sending the REST call to the page showing the change
(polled every 5 ms over the DevTools protocol):

- first load: navigation until the whole scene is drawn;
- transform: PATCH one object -> the page fetches that object's info and moves it;
- create: POST one cube -> the page loads just that object's GLB;
- delete: DELETE one object -> the page removes it;
- full reload: the Reload button -> the whole scene exported and loaded again (what scene.* events cause);
- frame: one render of the whole scene in the page (SwiftShader: the CPU draws).

Numbers are printed, never asserted. ``--screenshot docs/viewer.png`` instead builds a small demo scene, renders
it once with the page's Render button and saves a screenshot of the page for docs/VIEWER.md.

Usage: python bench/viewer.py [--objects 1000] [--repeat 5] [--screenshot PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from browser import Browser
from stack import Http, Stack

B = "/api/v1/blender"


def timed(action: Callable[[], object], done: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds from the start of ``action`` until ``done()`` holds."""
    started = time.perf_counter()
    action()
    deadline = started + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the page did not show the change")
        time.sleep(0.005)
    return time.perf_counter() - started


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"{name:<14} median {statistics.median(ms):8.1f} ms   max {max(ms):8.1f} ms   ({len(ms)} runs)", flush=True)


def add_cubes(http: Http, count: int) -> None:
    side = max(1, round(count ** (1 / 3)))
    for start in range(0, count, 250):
        steps = [
            {
                "method": "primitive.create",
                "params": {
                    "type": "cube",
                    "name": f"C{i:04d}",
                    "size": 1.0,
                    "location": [3.0 * (i % side), 3.0 * (i // side % side), 3.0 * (i // side // side)],
                },
            }
            for i in range(start, min(count, start + 250))
        ]
        http.call("POST", B + "/batch", {"steps": steps})


def measure(stack: Stack, browser: Browser, objects: int, repeat: int) -> None:
    http = stack.http()
    http.call("DELETE", B + "/scene")
    add_cubes(http, objects)
    url = stack.gateway.url + "/viewer?app=blender"
    shown = "window.bridge3dViewer && window.bridge3dViewer.shown()"
    print(f"Blender scene of {objects} cubes; the viewer in headless Chromium (SwiftShader WebGL)", flush=True)

    loads = [
        timed(
            lambda: browser.navigate(url),
            lambda: (
                (browser.evaluate(f"({shown} || []).length") or 0) >= objects
                and browser.evaluate("document.body.dataset.live") == "true"
            ),
            timeout=120,
        )
        for _ in range(max(1, repeat // 2))
    ]
    report("first load", loads)

    moves: list[float] = []
    creates: list[float] = []
    deletes: list[float] = []
    reloads: list[float] = []
    frames: list[float] = []
    for run in range(repeat):
        name, z, extra = f"C{(run * 37) % objects:04d}", 50.0 + run, f"Extra{run}"

        def move(name: str = name, z: float = z) -> None:
            http.call("PATCH", f"{B}/objects/{name}", {"location": [0, 0, z]})

        def moved(name: str = name, z: float = z) -> bool:
            position = browser.evaluate(f"window.bridge3dViewer.position('{name}')") or [0, 0, 0]
            return bool(position[2] > z - 0.01)

        def create(extra: str = extra) -> None:
            http.call("POST", B + "/primitives/cube", {"name": extra, "location": [-5, 0, 0]})

        def created(extra: str = extra) -> bool:
            return bool(browser.evaluate(f"window.bridge3dViewer.shown().includes('{extra}')"))

        def delete(extra: str = extra) -> None:
            http.call("DELETE", f"{B}/objects/{extra}")

        def deleted(extra: str = extra) -> bool:
            return not browser.evaluate(f"window.bridge3dViewer.names().includes('{extra}')")

        def reload() -> None:
            browser.evaluate("document.getElementById('reload').click()")

        moves.append(timed(move, moved))
        creates.append(timed(create, created))
        deletes.append(timed(delete, deleted))
        before = browser.evaluate("window.bridge3dViewer.updates()")

        def reloaded(before: int = before) -> bool:
            return bool(browser.evaluate("window.bridge3dViewer.updates()") > before)

        reloads.append(timed(reload, reloaded, timeout=120))
        frames.append(browser.evaluate("window.bridge3dViewer.frameMs()") / 1000)
    report("transform", moves)
    report("create", creates)
    report("delete", deletes)
    report("full reload", reloads)
    report("frame", frames)


def screenshot(stack: Stack, browser: Browser, path: Path) -> None:
    """Three objects, rendered once, the torus selected: the picture in docs/VIEWER.md."""
    http = stack.http()
    http.call("DELETE", B + "/scene")
    for name, color in (("Red", [0.8, 0.1, 0.1, 1]), ("Blue", [0.1, 0.3, 0.8, 1]), ("Gold", [0.9, 0.6, 0.1, 1])):
        http.call("POST", B + "/materials", {"name": name, "color": color})
    for kind, body, material in (
        ("cube", {"name": "Cube", "size": 2, "location": [0, 0, 1]}, "Red"),
        ("sphere", {"name": "Sphere", "radius": 1, "location": [3, 0, 1]}, "Blue"),
        ("torus", {"name": "Torus", "major_radius": 1, "minor_radius": 0.3, "location": [-3, 0, 0.3]}, "Gold"),
    ):
        http.call("POST", f"{B}/primitives/{kind}", body)
        if material:
            http.call("POST", B + "/materials/apply", {"object": body["name"], "material": material})
    browser.navigate(stack.gateway.url + "/viewer?app=blender")
    browser.wait_for("document.body.dataset.live === 'true'", timeout=60)
    browser.evaluate("document.getElementById('render').click()")
    browser.wait_for("!document.getElementById('render-panel').hidden", timeout=120)
    browser.evaluate("document.querySelector('#objects button[data-name=\"Torus\"]').click()")
    time.sleep(0.5)  # the render image decodes, the frame with the selection box is drawn
    image = browser.screenshot().quantize(colors=96)  # a palette PNG: small enough for the repository
    image.save(path, optimize=True)
    print(f"saved {path} ({path.stat().st_size // 1024} KB, {image.width}x{image.height})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, help="save the docs screenshot here instead of measuring")
    args = parser.parse_args()
    stack = Stack()
    try:
        with tempfile.TemporaryDirectory(prefix="bridge3d-chromium-") as profile:
            size = (1100, 560) if args.screenshot else (1200, 800)
            browser = Browser(Path(profile) / "profile", width=size[0], height=size[1], timeout=120)
            try:
                if args.screenshot:
                    screenshot(stack, browser, args.screenshot)
                else:
                    measure(stack, browser, args.objects, args.repeat)
            finally:
                browser.close()
    finally:
        stack.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
