"""The demo report in a real headless Chromium: no request leaves the page, the script runs
under the CSP, the table filters and sorts, it reads with JavaScript off, and it prints.

A screenshot of each section and the printed PDF are written to the test artefacts folder
($AUDITOR_TEST_ARTIFACTS, default `test-artifacts/` in the repository) under `report/`.
`.ci/run` installs Debian's `chromium` package so this runs in CI; on a machine without
Chromium (or Chrome; $CHROMIUM names another) the module is skipped, saying so.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.config import load_settings
from auditor.pipeline import run_demo
from tests.report.cdp import Browser, chromium, find_chromium

SECTIONS = (
    "summary",
    "usage",
    "findings",
    "evidence",
    "method",
    "coverage",
    "provenance",
    "operation",
)
REPO = Path(__file__).resolve().parents[2]
EXECUTABLE = find_chromium()

pytestmark = pytest.mark.skipif(
    EXECUTABLE is None,
    reason="Chromium is not installed (Debian: `apt-get install chromium`, as .ci/run does; "
    "or set $CHROMIUM): the report's browser test cannot run here",
)


def artefacts() -> Path:
    root = Path(os.environ.get("AUDITOR_TEST_ARTIFACTS", REPO / "test-artifacts"))
    out = root / "report"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's report for a small fictional bank, built by the real pipeline."""
    tmp = tmp_path_factory.mktemp("demo")
    settings = load_settings(
        None,
        data_dir=str(tmp / ".auditor"),
        scan={"hash_key": "browser-test-key-padded-to-thirty-two-bytes"},
        report={"output_dir": str(tmp / "reports")},
    )
    result = run_demo(settings, people=120)
    paths = [p.report_path for p in result.periods if p.report_path is not None]
    assert paths, "the demo wrote no report"
    return paths[-1]


@pytest.fixture(scope="module")
def browser(report: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert EXECUTABLE is not None
    with chromium(EXECUTABLE, tmp_path_factory.mktemp("chromium")) as b:
        yield b


@pytest.fixture(scope="module")
def loaded(browser: Browser, report: Path) -> int:
    """The report loaded once; the index of its first event in `browser.events`."""
    return browser.navigate(report.as_uri())


def test_the_page_makes_no_request_but_its_own_load(browser, report, loaded) -> None:
    requested = [
        e["params"]["request"]["url"]
        for e in browser.events_named("Network.requestWillBeSent", loaded)
    ]
    assert requested == [report.as_uri()]
    for kind in ("Network.webSocketCreated", "Network.eventSourceMessageReceived"):
        assert browser.events_named(kind, loaded) == []


def test_no_errors_and_no_content_security_violations(browser, loaded) -> None:
    # The inline script runs (its hash is in the CSP) and nothing is refused or thrown.
    assert browser.evaluate("document.querySelector('.table-controls') !== null")
    assert browser.events_named("Runtime.exceptionThrown", loaded) == []
    complaints = [
        e["params"]["entry"].get("text", "")[:200]
        for e in browser.events_named("Log.entryAdded", loaded)
        if e["params"]["entry"].get("level") in ("error", "warning")
    ]
    assert complaints == []


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("section", SECTIONS)
def test_screenshot_of_each_section(browser, loaded, section) -> None:
    box = browser.evaluate(
        f"(() => {{ const r = document.getElementById({section!r}).getBoundingClientRect();"
        " return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; })()"
    )
    assert box["w"] > 300 and box["h"] > 50, f"section {section} is not laid out"
    shot = browser.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": box["x"],
                "y": box["y"],
                "width": box["w"],
                "height": min(box["h"], 6000),
                "scale": 1,
            },
        },
    )
    data = base64.b64decode(shot["data"])
    width, height = png_size(data)
    assert width >= 300 and height >= 50
    (artefacts() / f"section-{section}.png").write_bytes(data)


def visible_rows(browser: Browser) -> list[dict[str, Any]]:
    return browser.evaluate(
        "Array.from(document.querySelectorAll('#findings-index tbody tr'))"
        ".filter(r => !r.hidden).map(r => ({sev: r.dataset.severity, st: r.dataset.status,"
        " rank: +r.cells[1].dataset.sort, when: r.cells[7].dataset.sort}))"
    )


def set_control(browser: Browser, element_id: str, value: str) -> None:
    browser.evaluate(
        f"(() => {{ const c = document.getElementById({element_id!r}); c.value = {value!r};"
        " c.dispatchEvent(new Event('change')); c.dispatchEvent(new Event('input')); })()"
    )


def test_findings_filter_by_severity_and_text(browser, loaded) -> None:
    everything = visible_rows(browser)
    assert len(everything) > 1
    severity = everything[-1]["sev"]
    set_control(browser, "findings-severity", severity)
    kept = visible_rows(browser)
    assert kept and {r["sev"] for r in kept} == {severity}
    assert len(kept) == sum(r["sev"] == severity for r in everything)
    shown = browser.evaluate("document.getElementById('findings-shown').textContent")
    assert shown == f"{len(kept)} of {len(everything)} shown"
    set_control(browser, "findings-filter", "no-such-rule-anywhere")
    assert visible_rows(browser) == []
    set_control(browser, "findings-filter", "")
    set_control(browser, "findings-severity", "")
    assert len(visible_rows(browser)) == len(everything)


def test_findings_sort_by_a_column_both_ways(browser, loaded) -> None:
    click = "document.querySelectorAll('#findings-index thead button.sort')[{}].click()"
    browser.evaluate(click.format(7))  # When, ascending
    whens = [r["when"] for r in visible_rows(browser)]
    assert whens == sorted(whens)
    browser.evaluate(click.format(1))  # Severity, ascending: critical first
    browser.evaluate(click.format(1))  # and descending
    ranks = [r["rank"] for r in visible_rows(browser)]
    assert ranks == sorted(ranks, reverse=True)
    assert (
        browser.evaluate(
            "document.querySelectorAll('#findings-index thead th')[1].getAttribute('aria-sort')"
        )
        == "descending"
    )


def test_prints_to_pdf_on_a4(browser, loaded) -> None:
    printed = browser.send("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
    pdf = base64.b64decode(printed["data"])
    assert pdf.startswith(b"%PDF-")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages >= 3  # summary/usage/findings, evidence and method start new pages
    # A4 from the report's @page rule: 595 x 842 points.
    assert b"/MediaBox [0 0 595" in pdf or b"/MediaBox [0 0 594" in pdf
    (artefacts() / "report.pdf").write_bytes(pdf)


def test_reads_with_javascript_off(browser, report) -> None:
    browser.send("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.navigate(report.as_uri())
        root = browser.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]

        def count(selector: str) -> int:
            found = browser.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})
            return len(found["nodeIds"])

        assert count("main > section[id]") == len(SECTIONS)
        assert count("#findings-index tbody tr") == count("article.finding") > 0
        assert count(".table-controls") == 0  # the controls come only from the script
        assert count("#findings-index tbody tr[hidden]") == 0
    finally:
        browser.send("Emulation.setScriptExecutionDisabled", {"value": False})
