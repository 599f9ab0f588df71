"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, for UI tests.

Just enough of the protocol to open a page, wait for something, click, read the DOM
(frames included) and take a screenshot: no browser download, no extra package
(``websockets`` comes with the API server's uvicorn).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page; ``evaluate`` runs JavaScript in the page (or a frame)."""

    def __init__(self, width: int = 1400, height: int = 700, dark: bool = False):
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (scripts/setup installs Debian's chromium)")
        self.profile = Path(tempfile.mkdtemp(prefix="datasync-chromium-"))
        args = [
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--remote-debugging-port=0", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
        ]
        if dark:
            args += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
        self.proc = subprocess.Popen([*args, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.loads(r.read()) if t["type"] == "page")
        self.loop = asyncio.new_event_loop()
        self.ws = self.loop.run_until_complete(self._connect(page["webSocketDebuggerUrl"]))
        self._id = 0
        self.send("Page.enable")
        self.send("Runtime.enable")

    async def _connect(self, url: str) -> Any:
        import websockets

        return await websockets.connect(url, max_size=64 * 1024 * 1024)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        request_id = self._id

        async def call() -> dict[str, Any]:
            await self.ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
            while True:
                message = json.loads(await self.ws.recv())
                if message.get("id") == request_id:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return message.get("result", {})

        return self.loop.run_until_complete(asyncio.wait_for(call(), 60))

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                shot = self.screenshot(Path(tempfile.gettempdir()) / "datasync-browser-timeout.png")
                raise AssertionError(
                    f"timed out waiting for {what or expression} at {self.evaluate('location.href')} (screenshot: {shot})"
                )
            time.sleep(0.3)

    def click(self, selector_js: str) -> None:
        """A real mouse click in the middle of the element ``selector_js`` (a JS expression) evaluates to."""
        box = self.evaluate(
            f"(() => {{ const r = ({selector_js}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def type(self, selector_js: str, text: str) -> None:
        """Focus the field by clicking it, then type ``text`` as keyboard input."""
        self.click(selector_js)
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.ws.close())
        except Exception:  # noqa: BLE001
            pass
        self.loop.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
