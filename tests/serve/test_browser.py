"""The review application in a real headless Chromium with JavaScript switched off: a
manager signs in, filters the queue, asks for a false positive on a high finding (four-eyes),
signs out; a reviewer signs in and approves it. Forms are filled and buttons pressed through
the DevTools protocol's DOM and Input domains (as a person would type and click), never by a
script in the page. A screenshot of each page is kept under `serve/` in the test artefacts
folder ($AUDITOR_TEST_ARTIFACTS, default `test-artifacts/`). Skipped, saying why, without
Chromium (`.ci/run` installs Debian's)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from auditor.db.models import Finding
from auditor.db.session import session_scope
from tests.report import cdp
from tests.report.cdp import Browser, chromium, find_chromium
from tests.serve.conftest import PASSWORD, finding_of

REPO = Path(__file__).resolve().parents[2]
EXECUTABLE = find_chromium()

pytestmark = pytest.mark.skipif(
    EXECUTABLE is None,
    reason="Chromium is not installed (Debian: `apt-get install chromium`, as .ci/run does; "
    "or set $CHROMIUM): the review application's browser test cannot run here",
)


def artefacts() -> Path:
    root = Path(os.environ.get("AUDITOR_TEST_ARTIFACTS", REPO / "test-artifacts"))
    out = root / "serve"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Chromium with the report test's flags, except that 127.0.0.1 (where the application
    listens) is neither resolved to nowhere nor sent to the proxy that goes nowhere."""
    assert EXECUTABLE is not None
    flags = tuple(f for f in cdp.FLAGS if not f.startswith("--host-resolver-rules"))
    monkeypatch.setattr(
        cdp,
        "FLAGS",
        (
            *flags,
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-bypass-list=127.0.0.1",
        ),
    )
    with chromium(EXECUTABLE, tmp_path / "chromium") as b:
        b.send("Emulation.setScriptExecutionDisabled", {"value": True})
        yield b


def _node(b: Browser, selector: str) -> int:
    root = b.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = b.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"no element {selector!r} on the page"
    return int(node)


def _html(b: Browser) -> str:
    root = b.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    return str(b.send("DOM.getOuterHTML", {"nodeId": root})["outerHTML"])


def _url(b: Browser) -> str:
    return str(b.send("DOM.getDocument", {"depth": 0})["root"]["documentURL"])


def _type(b: Browser, selector: str, text: str) -> None:
    b.send("DOM.focus", {"nodeId": _node(b, selector)})
    b.send("Input.insertText", {"text": text})


def _click(b: Browser, selector: str, *, navigates: bool = False) -> None:
    node = _node(b, selector)
    b.send("DOM.scrollIntoViewIfNeeded", {"nodeId": node})
    quad = b.send("DOM.getBoxModel", {"nodeId": node})["model"]["content"]
    x, y = (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2
    mark = len(b.events)
    for kind in ("mousePressed", "mouseReleased"):
        b.send(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
        )
    if navigates:
        b.wait_for("Page.loadEventFired", mark)


def _shot(b: Browser, name: str) -> None:
    shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    data = base64.b64decode(shot["data"])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    (artefacts() / f"{name}.png").write_bytes(data)


def _sign_in(b: Browser, base: str, username: str) -> None:
    b.navigate(f"{base}/login")
    _shot(b, "login")
    _type(b, "#username", username)
    _type(b, "#password", PASSWORD)
    _click(b, "form.stacked button[type=submit]", navigates=True)
    assert _url(b) == f"{base}/findings"


def test_manager_and_reviewer_review_with_javascript_off(
    browser: Browser, server: tuple[int, Path], bank: Engine
) -> None:
    port, _ = server
    base = f"http://127.0.0.1:{port}"
    start = len(browser.events)
    target = finding_of("u00001", "high")

    _sign_in(browser, base, "markets-boss")
    page = _html(browser)
    assert "Signed in as <strong>markets-boss</strong>" in page
    _shot(browser, "queue")
    browser.navigate(f"{base}/findings?severity=high&department=Markets")
    listed = set(re.findall(r'href="/findings/([0-9a-z-]{32})"', _html(browser)))
    assert listed == {finding_of("u00001", "high"), finding_of("u00002", "high")}
    _shot(browser, "queue-filtered")

    browser.navigate(f"{base}/findings/{target}")
    _click(browser, 'input[name="disposition"][value="false-positive"]')
    _type(browser, "#note", "Test card number from the vendor's documentation")
    _click(browser, "form[action$='/disposition'] button[type=submit]", navigates=True)
    page = _html(browser)
    assert "Awaiting a second reviewer" in page and "st-pending_approval" in page
    _shot(browser, "finding-pending")
    _click(browser, "form.signout button", navigates=True)
    assert _url(browser) == f"{base}/login"

    _sign_in(browser, base, "rita")
    browser.navigate(f"{base}/findings/{target}")
    _click(browser, 'input[name="decision"][value="approve"]')
    _type(browser, "#approval-note", "Agreed: vendor test data")
    _click(browser, "form[action$='/approval'] button[type=submit]", navigates=True)
    page = _html(browser)
    assert "st-false_positive" in page and "Who opened this evidence" in page
    _shot(browser, "finding-approved")
    with session_scope(bank) as s:
        assert s.get(Finding, target).status == "false_positive"

    # Nothing but the application was asked for, and the page complained of nothing.
    hosts: set[Any] = {
        re.sub(r"^(\w+://[^/]+).*", r"\1", e["params"]["request"]["url"])
        for e in browser.events_named("Network.requestWillBeSent", start)
    }
    assert hosts == {base}
    complaints = [
        e["params"]["entry"].get("text", "")[:200]
        for e in browser.events_named("Log.entryAdded", start)
        if e["params"]["entry"].get("level") in ("error", "warning")
    ]
    assert complaints == []
