"""Headless Chromium driven over the Chrome DevTools Protocol, with the `websockets` package and nothing else.

WebGL needs a GPU, which headless Chromium with --disable-gpu does not have: ANGLE's SwiftShader backend
(`--use-angle=swiftshader --enable-unsafe-swiftshader`) gives it a software one, so three.js really draws and
screenshots show the scene. Every request the page makes is recorded (CDP Network domain) so tests can check
where they went.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image
from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",  # WebGL on the CPU (SwiftShader); --disable-gpu alone leaves no WebGL at all
    "--enable-unsafe-swiftshader",
    "--hide-scrollbars",
    "--remote-debugging-port=0",  # any free port; Chromium writes it to DevToolsActivePort in the profile
)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page; `call` sends a CDP command, events are collected in `events`."""

    def __init__(self, profile: Path, *, width: int = 1200, height: int = 800, timeout: float = 30.0) -> None:
        if CHROMIUM is None:
            raise BrowserError("chromium is not installed")
        self.timeout = timeout
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._exit = contextlib.ExitStack()
        profile.mkdir(parents=True, exist_ok=True)
        command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.socket = self._connect(profile / "DevToolsActivePort")
            for domain in ("Page", "Runtime", "Network"):
                self.call(f"{domain}.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def _connect(self, port_file: Path) -> ClientConnection:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with {self.process.returncode}")
            text = port_file.read_text() if port_file.exists() else ""
            if text.count("\n") >= 1:
                port = int(text.split("\n")[0])
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                    targets = json.load(response)
                page = next((t for t in targets if t.get("type") == "page"), None)
                if page is not None:
                    url = page["webSocketDebuggerUrl"]
                    return self._exit.enter_context(connect(url, max_size=None, open_timeout=self.timeout))
            time.sleep(0.05)
        raise BrowserError("chromium did not open its DevTools port")

    # ------------------------------------------------------------------ protocol
    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"{method}: no answer in {self.timeout} s")
            message = json.loads(self.socket.recv(timeout=remaining))
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append((message["method"], message.get("params", {})))

    def pump(self, seconds: float = 0.0) -> None:
        """Collect the events that arrived (and keep doing so for ``seconds``)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                message = json.loads(self.socket.recv(timeout=max(0.0, deadline - time.monotonic())))
            except TimeoutError:
                return
            if "method" in message:
                self.events.append((message["method"], message.get("params", {})))

    # ------------------------------------------------------------------ page
    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises are awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0, interval: float = 0.05) -> Any:
        """Poll until the expression is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"still false after {timeout} s: {expression}")
            time.sleep(interval)

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", timeout=self.timeout)

    def screenshot(self, selector: str | None = None) -> Image.Image:
        """The page (or one element's box) as an RGB image."""
        params: dict[str, Any] = {"format": "png"}
        if selector is not None:
            box = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
            )
            params["clip"] = {**box, "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        return Image.open(io.BytesIO(data)).convert("RGB")

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", buttons=1, clickCount=1)

    def type_text(self, text: str) -> None:
        self.call("Input.insertText", text=text)

    def request_urls(self) -> list[str]:
        """Every URL the page asked for so far: HTTP requests and WebSocket handshakes."""
        self.pump()
        urls = []
        for method, params in self.events:
            if method == "Network.requestWillBeSent":
                urls.append(params["request"]["url"])
            elif method == "Network.webSocketCreated":
                urls.append(params["url"])
        return urls

    def close(self) -> None:
        try:
            self._exit.close()
        finally:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
