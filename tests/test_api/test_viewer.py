"""The live viewer (/viewer) in headless Chromium against the real applications: it draws the scene, follows
changes without a reload, shows an object's info, works with an API key, and never asks for anything off this
machine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image, ImageChops

from backends import IN_CI, Backend
from bridge3d.formats.glb import MeshNode, read_glb, vertex_normals, with_asset_extras, write_glb
from browser import CHROMIUM, Browser
from envelope import ok
from gateway import Gateway, start_gateway

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"
API_KEY = "viewer-test-key-5b7e"
BACKGROUND = (34, 38, 44)  # the view's background colour (viewer.js)
# The page follows changes within a fraction of a second on an idle machine; software WebGL on a loaded 2-core
# machine can take far longer, and the tests must not depend on how fast it is.
PATIENCE = 60.0


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is not installed (scripts/install.sh installs it)")
        pytest.skip("chromium is not installed")
    chromium = Browser(tmp_path_factory.mktemp("chromium") / "profile")
    yield chromium
    chromium.close()


def poll(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def red_cube_scene(api: httpx.Client) -> None:
    ok(api.delete(BLENDER + "/scene"))
    assert ok(api.post(BLENDER + "/materials", json={"name": "ViewerRed", "color": [1, 0, 0, 1]}), 201)["name"] == (
        "ViewerRed"
    )
    ok(api.post(BLENDER + "/primitives/cube", json={"name": "ViewerCube", "size": 2}), 201)
    ok(api.post(BLENDER + "/materials/apply", json={"object": "ViewerCube", "material": "ViewerRed"}))


def open_viewer(browser: Browser, url: str) -> None:
    browser.navigate(url)
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=PATIENCE)
    browser.wait_for("document.body.dataset.live === 'true'", timeout=PATIENCE)  # subscribed: no event is missed


def canvas_image(browser: Browser) -> Image.Image:
    return browser.screenshot("#canvas")


def centre(image: Image.Image, fraction: float = 0.2) -> list[tuple[int, int, int]]:
    width, height = image.size
    box = (
        int(width * (0.5 - fraction / 2)),
        int(height * (0.5 - fraction / 2)),
        int(width * (0.5 + fraction / 2)),
        int(height * (0.5 + fraction / 2)),
    )
    pixels = np.asarray(image.crop(box).convert("RGB")).reshape(-1, 3)
    return [(int(r), int(g), int(b)) for r, g, b in pixels]


def changed_pixels(before: Image.Image, after: Image.Image) -> int:
    difference = ImageChops.difference(before, after).convert("L").point(lambda value: 255 if value > 24 else 0)
    return difference.width * difference.height - difference.histogram()[0]


def assert_all_local(browser: Browser) -> list[str]:
    urls = browser.request_urls()
    assert any(url.endswith("/view.glb") or "/view.glb?" in url for url in urls), urls  # the page did load a view
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in ("data", "blob") or parts.hostname in ("127.0.0.1", "localhost"), url
    return urls


def test_blender_scene_appears_and_follows_changes(browser: Browser, api: httpx.Client, gateway: Gateway) -> None:
    red_cube_scene(api)
    open_viewer(browser, gateway.url + "/viewer?app=blender")
    before = canvas_image(browser)
    red = [p for p in centre(before) if p[0] > 120 and p[1] < 60 and p[2] < 60]
    assert len(red) > 0.5 * len(centre(before)), "the red cube is not drawn in the middle of the view"

    # A second object, created over REST, appears without a reload (the page keeps its state).
    browser.evaluate("window.viewerTestMarker = 'same page'")
    body = {"name": "ViewerSecond", "size": 1, "location": [0, 2.2, 0]}
    ok(api.post(BLENDER + "/primitives/cube", json=body), 201)
    started = time.monotonic()
    assert poll(lambda: changed_pixels(before, canvas_image(browser)) > 2000, timeout=PATIENCE), "the view stayed"
    print(f"the view changed {time.monotonic() - started:.2f} s after the REST call returned")
    assert browser.evaluate("window.viewerTestMarker") == "same page"
    assert browser.evaluate("window.bridge3dViewer.shown().sort()") == ["ViewerCube", "ViewerSecond"]

    # A transform moves just that object; a deletion removes it.
    ok(api.patch(BLENDER + "/objects/ViewerSecond", json={"location": [0, 2.2, 1.5]}))
    browser.wait_for("(window.bridge3dViewer.position('ViewerSecond') || [])[2] > 1.4", timeout=PATIENCE)
    assert browser.evaluate("window.bridge3dViewer.position('ViewerCube')") == [0, 0, 0]  # the other one stayed
    ok(api.delete(BLENDER + "/objects/ViewerSecond"))
    browser.wait_for("!window.bridge3dViewer.names().includes('ViewerSecond')", timeout=PATIENCE)
    assert browser.evaluate("window.viewerTestMarker") == "same page"
    assert_all_local(browser)


def test_a_session_is_picked_and_followed_live(browser: Browser, api: httpx.Client, gateway: Gateway) -> None:
    red_cube_scene(api)  # the default session's scene
    session = ok(api.post(BLENDER + "/sessions", json={"label": "viewer"}), 201)["id"]
    in_session = {"X-Bridge3D-Session": session}
    try:
        ok(api.delete(BLENDER + "/scene", headers=in_session))
        ok(api.post(BLENDER + "/primitives/sphere", json={"name": "SessionBall"}, headers=in_session), 201)
        open_viewer(browser, gateway.url + f"/viewer?app=blender&session={session}")
        assert browser.evaluate("window.bridge3dViewer.names()") == ["SessionBall"]
        picker = "document.getElementById('session')"
        assert browser.evaluate(f"{picker}.value") == session
        assert f"viewer ({session})" in browser.evaluate(f"[...{picker}.options].map(o => o.text)")

        # Live, from the session's own events: its new object appears; the default session's does not.
        ok(api.post(BLENDER + "/primitives/cube", json={"name": "DefaultOnly"}), 201)
        body = {"name": "SessionCube", "location": [3, 0, 0]}
        ok(api.post(BLENDER + "/primitives/cube", json=body, headers=in_session), 201)
        browser.wait_for("window.bridge3dViewer.names().includes('SessionCube')", timeout=PATIENCE)
        assert sorted(browser.evaluate("window.bridge3dViewer.names()")) == ["SessionBall", "SessionCube"]

        # Back to the default session through the picker.
        browser.evaluate(f"{picker}.value = ''; {picker}.dispatchEvent(new Event('change'))")
        browser.wait_for("window.bridge3dViewer.names().includes('ViewerCube')", timeout=PATIENCE)
        assert "SessionBall" not in browser.evaluate("window.bridge3dViewer.names()")
        assert "session=" not in browser.evaluate("location.href")
    finally:
        ok(api.delete(f"{BLENDER}/sessions/{session}"))
        ok(api.delete(BLENDER + "/objects/DefaultOnly"))


def test_clicking_an_object_shows_its_info(browser: Browser, api: httpx.Client, gateway: Gateway) -> None:
    red_cube_scene(api)
    open_viewer(browser, gateway.url + "/viewer?app=blender")
    browser.evaluate("document.querySelector('#objects button[data-name=\"ViewerCube\"]').click()")
    details = browser.evaluate("document.getElementById('details').innerText")
    assert "MESH" in details and "Dimensions" in details and "2, 2, 2 m" in details and "ViewerRed" in details
    assert browser.evaluate("document.querySelector('#objects button.selected').dataset.name") == "ViewerCube"

    box = browser.evaluate(
        "(() => { const r = document.getElementById('canvas').getBoundingClientRect(); "
        "return [r.x, r.y, r.width, r.height]; })()"
    )
    browser.click(box[0] + 5, box[1] + 5)  # empty background: nothing is selected
    browser.wait_for("document.getElementById('details').dataset.name === ''", timeout=PATIENCE)
    browser.click(box[0] + box[2] / 2, box[1] + box[3] / 2)  # the cube, picked in the 3D view
    browser.wait_for("document.getElementById('details').dataset.name === 'ViewerCube'", timeout=PATIENCE)
    assert "Location" in browser.evaluate("document.getElementById('details').innerText")


def test_freecad_document_shows_its_box(browser: Browser, api: httpx.Client, gateway: Gateway) -> None:
    ok(api.post(FREECAD + "/documents", json={"name": "ViewerDoc"}), 201)
    box = {"name": "ViewerBox", "length": 20, "width": 10, "height": 8}
    ok(api.post(FREECAD + "/primitives/box", json=box), 201)  # into the active document: the one just made

    open_viewer(browser, gateway.url + "/viewer?app=freecad")
    assert browser.evaluate("window.bridge3dViewer.shown()") == ["ViewerBox"]
    image = canvas_image(browser)
    drawn = [p for p in centre(image) if max(abs(a - b) for a, b in zip(p, BACKGROUND, strict=True)) > 40]
    assert len(drawn) > 0.5 * len(centre(image)), "the box is not drawn in the middle of the view"

    browser.evaluate("document.querySelector('#objects button[data-name=\"ViewerBox\"]').click()")
    details = browser.evaluate("document.getElementById('details').innerText")
    assert "Part::Box" in details and "1600 mm³" in details and "20, 10, 8 mm" in details

    # Moving the box in FreeCAD moves it in the page.
    ok(api.patch(FREECAD + "/objects/ViewerBox", json={"location": [0, 0, 30]}))
    browser.wait_for("(window.bridge3dViewer.position('ViewerBox') || [])[2] > 29", timeout=PATIENCE)
    assert_all_local(browser)


def test_with_an_api_key_the_page_asks_for_it_and_never_puts_it_in_a_url(
    browser: Browser,
    api: httpx.Client,
    tmp_path_factory: pytest.TempPathFactory,
    blender_backend: Backend,
    freecad_backend: Backend,
) -> None:
    red_cube_scene(api)
    keyed = start_gateway(
        tmp_path_factory.mktemp("keyed"), blender_backend, freecad_backend, extra_env={"BRIDGE3D_API_KEY": API_KEY}
    )
    try:
        assert httpx.get(keyed.url + BLENDER + "/view.glb").status_code == 401
        browser.events.clear()
        browser.navigate(keyed.url + "/viewer")
        browser.wait_for("document.getElementById('key-dialog').open", timeout=PATIENCE)
        browser.evaluate("document.getElementById('key').focus()")
        browser.type_text(API_KEY)
        browser.evaluate("document.querySelector('#key-form button').click()")
        browser.wait_for("document.body.dataset.state === 'ready'", timeout=PATIENCE)
        browser.wait_for("document.body.dataset.live === 'true'", timeout=PATIENCE)  # the key went as a subprotocol
        assert browser.evaluate("window.bridge3dViewer.shown()") == ["ViewerCube"]
        urls = assert_all_local(browser)
        assert not [url for url in urls if API_KEY in url]
        assert any("/view.glb" in url for url in urls) and any(url.startswith("ws://") for url in urls)
        assert API_KEY not in keyed.log()
    finally:
        keyed.stop()


def test_viewer_files_are_served_offline_and_nothing_else(gateway: Gateway) -> None:
    page = httpx.get(gateway.url + "/viewer")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    licence = httpx.get(gateway.url + "/viewer/static/vendor/three/LICENSE")
    assert licence.status_code == 200 and "MIT" in licence.text
    for path in ("/viewer/static/../routers/viewer.py", "/viewer/static/vendor/three/package.json", "/viewer/static/"):
        assert httpx.get(gateway.url + path).status_code == 404, path


def test_view_glb_is_binary_gltf_with_object_info(
    api: httpx.Client, blender_backend: Backend, freecad_backend: Backend
) -> None:
    red_cube_scene(api)
    document_name = ok(api.post(FREECAD + "/documents", json={"name": "ViewGlbDoc"}), 201)["name"]
    box = {"name": "ViewGlbBox", "length": 20, "width": 10, "height": 8, "document": document_name}
    ok(api.post(FREECAD + "/primitives/box", json=box), 201)
    workspaces = (blender_backend.workspace, freecad_backend.workspace)
    before = [sorted(workspace.iterdir()) for workspace in workspaces]
    try:
        response = api.get(BLENDER + "/view.glb", params={"objects": ["ViewerCube", "NoSuchObject"]})
        assert response.status_code == 200 and response.headers["content-type"] == "model/gltf-binary"
        document, binary = read_glb(response.content)
        extras = document["asset"]["extras"]["bridge3d"]
        assert [node["name"] for node in document["nodes"]] == ["ViewerCube"]
        assert len(binary) == document["buffers"][0]["byteLength"]
        # The size-2 cube: its positions span -1..1 (Z up, metres).
        assert (document["accessors"][0]["min"], document["accessors"][0]["max"]) == ([-1, -1, -1], [1, 1, 1])
        assert (extras["missing"], extras["up"], extras["units"]) == (["NoSuchObject"], "Z", "m")
        assert [(o["name"], o["materials"]) for o in extras["objects"]] == [("ViewerCube", ["ViewerRed"])]
        assert [m["name"] for m in document["materials"]] == ["ViewerRed"]

        freecad = api.get(FREECAD + "/view.glb", params={"document": document_name})
        assert freecad.status_code == 200 and freecad.headers["content-type"] == "model/gltf-binary"
        document, binary = read_glb(freecad.content)
        extras = document["asset"]["extras"]["bridge3d"]
        assert [node["name"] for node in document["nodes"]] == ["ViewGlbBox"]
        assert len(binary) == document["buffers"][0]["byteLength"]
        assert (document["accessors"][0]["min"], document["accessors"][0]["max"]) == ([0, 0, 0], [20, 10, 8])
        assert (extras["document"], extras["missing"], extras["up"], extras["units"]) == (document_name, [], "Z", "mm")
        assert [(o["name"], o["type"], o["dimensions"]) for o in extras["objects"]] == [
            ("ViewGlbBox", "Part::Box", [20.0, 10.0, 8.0])
        ]
        assert [sorted(workspace.iterdir()) for workspace in workspaces] == before  # nothing written to a workspace
    finally:
        ok(api.delete(f"{FREECAD}/documents/{document_name}"))


def test_render_button_shows_the_render_beside_the_view(browser: Browser, api: httpx.Client, gateway: Gateway) -> None:
    red_cube_scene(api)
    open_viewer(browser, gateway.url + "/viewer?app=blender")
    browser.evaluate("document.getElementById('render').click()")
    browser.wait_for("!document.getElementById('render-panel').hidden", timeout=3 * PATIENCE)
    size = browser.wait_for(
        "(() => { const img = document.getElementById('render-image');"
        " return img.complete && img.naturalWidth ? [img.naturalWidth, img.naturalHeight, img.src] : null; })()",
        timeout=PATIENCE,
    )
    assert size[:2] == [640, 480] and size[2].startswith("blob:")
    assert_all_local(browser)


def test_glb_writer_round_trip() -> None:
    positions = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    normals = vertex_normals(positions, [0, 1, 2])
    assert normals == [0.0, 0.0, 1.0] * 3
    data = write_glb(
        [
            MeshNode("Tri", positions, [0, 1, 2], normals, color=(1, 0, 0, 1), translation=(0, 0, 5)),
            MeshNode("Empty"),
            MeshNode("Again", positions, [0, 2, 1], color=(1, 0, 0, 1)),
        ]
    )
    assert data[:4] == b"glTF" and len(data) % 4 == 0
    document, binary = read_glb(with_asset_extras(data, {"bridge3d": {"objects": []}}))
    assert [node["name"] for node in document["nodes"]] == ["Tri", "Empty", "Again"]
    assert "mesh" not in document["nodes"][1] and document["nodes"][0]["translation"] == [0, 0, 5]
    assert len(document["materials"]) == 1  # one material per colour
    assert document["accessors"][0]["min"] == [0, 0, 0] and document["accessors"][0]["max"] == [1, 1, 0]
    assert document["asset"]["extras"] == {"bridge3d": {"objects": []}}
    assert len(binary) == document["buffers"][0]["byteLength"]
