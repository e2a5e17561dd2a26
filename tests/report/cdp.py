"""A headless Chromium driven over the Chrome DevTools Protocol, for the report's browser test.

Chromium is started with `--remote-debugging-pipe`: it reads protocol messages (JSON, each
ended by a NUL byte) on file descriptor 3 and writes replies and events on descriptor 4. No
port is opened and no Python package is needed. Only what the test uses is implemented:
commands with replies, and events kept in order for the test to inspect.

Chromium gets flags that keep it quiet (no updates, sync, metrics or first-run pages) and a
proxy and resolver that go nowhere: even a request the page should never make could not
leave the machine, and the test still sees it attempted through the Network domain.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """The browser to use: $CHROMIUM if set, else the first Chromium or Chrome on PATH."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Browser:
    """One Chromium process and one page attached to it (flattened session)."""

    def __init__(self, executable: str, profile: Path, log: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()

        def wire_pipes() -> None:  # runs in the child, before exec
            # Via descriptors above 10 first, so neither pipe end is overwritten by the other.
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=wire_pipes,
            close_fds=False,  # descriptors 3 and 4 must reach Chromium; ours are close-on-exec
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._out = os.fdopen(to_child_w, "wb", buffering=0)
        self._in = os.fdopen(from_child_r, "rb", buffering=0)
        self._next_id = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._events_changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = self._in.read(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        box = self._replies.get(message["id"])
                    if box is not None:
                        box.put(message)
                else:
                    with self._events_changed:
                        self.events.append(message)
                        self._events_changed.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, *, page: bool = True) -> Any:
        """Send a command (to the page session unless `page` is false) and return its result."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            box: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1)
            self._replies[ident] = box
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if page and self.session is not None:
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        try:
            reply = box.get(timeout=self.timeout)
        except queue.Empty:
            raise BrowserError(f"no reply to {method} within {self.timeout} s") from None
        finally:
            with self._lock:
                self._replies.pop(ident, None)
        if "error" in reply:
            raise BrowserError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, method: str, after: int = 0) -> dict[str, Any]:
        """The first event `method` at or after index `after` of `events`, waiting for it."""
        with self._events_changed:
            ok = self._events_changed.wait_for(
                lambda: any(e.get("method") == method for e in self.events[after:]),
                timeout=self.timeout,
            )
            if not ok:
                raise BrowserError(f"no {method} event within {self.timeout} s")
            return next(e for e in self.events[after:] if e.get("method") == method)

    def open_page(self, width: int = 1280, height: int = 900) -> None:
        """Create a page, attach to it and enable the domains the test reads."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, page=False)
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, page=False
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log", "DOM"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def navigate(self, url: str) -> int:
        """Load `url` and wait for its load event; returns the index of its first event."""
        mark = len(self.events)
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired", mark)
        return mark

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (must be JSON-serialisable)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluation failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def events_named(self, method: str, after: int = 0) -> list[dict[str, Any]]:
        with self._events_changed:
            return [e for e in self.events[after:] if e.get("method") == method]

    def close(self) -> None:
        with suppress(BrowserError, OSError):
            self.send("Browser.close", page=False)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self._out, self._in, self._log):
            with suppress(OSError):
                stream.close()


@contextmanager
def chromium(executable: str, workdir: Path) -> Iterator[Browser]:
    """A started Chromium with a fresh profile under `workdir`, closed afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    browser = Browser(executable, workdir / "profile", workdir / "chromium.log")
    try:
        browser.open_page()
        yield browser
    finally:
        browser.close()
