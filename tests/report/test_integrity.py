"""The sealed HTML report: embedded data, stated digests, and detection of any change."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Settings
from auditor.db.session import session_scope
from auditor.errors import AuditorError
from auditor.report.context import ReportContext, build_report_context
from auditor.report.integrity import (
    PAGE_PLACEHOLDER,
    data_digest,
    render_sealed_html,
    seal,
    verify_html,
    verify_report,
)
from auditor.report.render import render_html
from auditor.report.writers import to_json_dict
from tests.report.page import executable_scripts, script_admitted

BLOCK = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


@pytest.fixture
def ctx(store, pseudonymize) -> ReportContext:
    with session_scope(store.engine) as session:
        return build_report_context(
            session,
            store.period,
            pseudonymize=pseudonymize,
            settings=Settings(),
            generated_at=datetime(2026, 11, 5, 7, 30, tzinfo=UTC),
            auditor_version="0.1.0",
            policy_revision="pol-r1",
            scanner_revision="scan-r1",
        )


@pytest.fixture
def sealed(ctx) -> str:
    return render_sealed_html(ctx)


def test_untouched_report_verifies(sealed, ctx, tmp_path) -> None:
    path = tmp_path / "audit-2026-10.html"
    path.write_text(sealed, encoding="utf-8")
    result = verify_report(path)
    assert result.ok and result.html_intact and result.reasons == ()
    assert result.data_digest_stated == result.data_digest_actual == data_digest(to_json_dict(ctx))


def test_footer_states_both_digests(sealed, ctx) -> None:
    digest = data_digest(to_json_dict(ctx))
    assert f'data SHA-256: <code id="data-sha256">{digest}</code>' in sealed
    manifest = ctx.method.manifest
    assert manifest is not None
    assert (
        f'sample manifest SHA-256: <code id="manifest-sha256">{manifest.manifest_sha256}</code>'
        in sealed
    )
    assert PAGE_PLACEHOLDER not in sealed


def test_embedded_data_is_the_report_data_and_cannot_close_its_tag(sealed, ctx) -> None:
    (block,) = BLOCK.findall(sealed)
    assert "<" not in block
    assert json.loads(block) == to_json_dict(ctx)
    # The block is data, never executed; the one executable script is the page's own.
    (script,) = executable_scripts(sealed)
    assert script_admitted(sealed, script)
    assert sealed.lower().count("<script") == 2


def test_hostile_excerpt_stays_inside_the_data_block(ctx) -> None:
    f = replace(ctx.evidence.findings[0], masked_excerpt="</script><!--<script>x")
    hostile = replace(ctx, evidence=replace(ctx.evidence, findings=(f,)))
    sealed = render_sealed_html(hostile)
    (block,) = BLOCK.findall(sealed)
    assert json.loads(block)["evidence"]["findings"][0]["masked_excerpt"] == f.masked_excerpt
    assert verify_html(sealed).ok


def flip(text: str, index: int) -> str:
    """`text` with the character at `index` changed to another of the same class."""
    c = text[index]
    new = {"a": "b", "0": "1", "9": "8", "f": "e"}.get(c, "a" if c != "a" else "b")
    return text[:index] + new + text[index + 1 :]


def _visible_index(html: str) -> int:
    match = re.search(r"<h1>AI usage audit", html)
    assert match
    return match.start() + len("<h1>")


def _data_index(html: str) -> int:
    match = re.search(r'"period":"2026-10"', html)
    assert match
    return match.start() + len('"period":"2026-1')  # the "0" of "10"


def _stated_index(html: str) -> int:
    match = re.search(r'<code id="data-sha256">', html)
    assert match
    return match.end() + 5


def _closing_index(html: str) -> int:
    return html.rindex("</html>") + 2


@pytest.mark.parametrize(
    ("where", "index_of", "data_ok"),
    [
        ("visible text", _visible_index, True),
        ("embedded data", _data_index, False),
        ("stated data digest", _stated_index, False),
        ("last tag", _closing_index, True),
    ],
)
def test_a_one_character_change_is_detected(sealed, where, index_of, data_ok) -> None:
    tampered = flip(sealed, index_of(sealed))
    assert tampered != sealed and len(tampered) == len(sealed)
    result = verify_html(tampered)
    assert not result.ok, where
    assert not result.html_intact
    assert (result.data_digest_stated == result.data_digest_actual) is data_ok


def test_a_reseal_after_a_data_change_is_still_caught_by_the_data_digest(sealed) -> None:
    """Re-computing only the page digest does not hide a change of the data."""
    tampered = flip(sealed, _data_index(sealed))
    stated = re.search(r'<code id="page-sha256">([0-9a-f]{64})</code>', tampered)
    assert stated
    resealed = seal(tampered.replace(stated.group(1), PAGE_PLACEHOLDER))
    result = verify_html(resealed)
    assert result.html_intact and not result.ok
    assert result.data_digest_stated != result.data_digest_actual


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: BLOCK.sub("", h), "embedded data block"),
        (lambda h: h + BLOCK.search(h).group(0), "embedded data block"),  # type: ignore[union-attr]
        (lambda h: re.sub(r'<code id="page-sha256">[0-9a-f]{64}</code>', "", h), "page SHA-256"),
        (
            lambda h: BLOCK.sub('<script type="application/json" id="report-data">{</script>', h),
            "not valid JSON",
        ),
    ],  # fmt: skip
)
def test_structural_damage_is_named(sealed, mutate, reason) -> None:
    result = verify_html(mutate(sealed))
    assert not result.ok
    assert any(reason in r for r in result.reasons), result.reasons


def test_an_unsealed_page_verifies_false(ctx) -> None:
    """render_html without the integrity values has no block and no digests."""
    result = verify_html(render_html(ctx))
    assert not result.ok and len(result.reasons) >= 3


@pytest.mark.parametrize("count", [0, 2])
def test_seal_needs_exactly_one_placeholder(count) -> None:
    with pytest.raises(AuditorError):
        seal("<p>" + PAGE_PLACEHOLDER * count + "</p>")


def test_verify_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(AuditorError) as info:
        verify_report(tmp_path / "nope.html")
    assert info.value.hint


def test_verify_non_utf8_is_a_failed_result(tmp_path: Path) -> None:
    path = tmp_path / "bad.html"
    path.write_bytes(b"\xff\xfe\x00")
    assert not verify_report(path).ok


def test_no_sample_states_none_for_the_manifest(store, pseudonymize) -> None:
    from auditor.db.models import Sample, SampleItem

    with session_scope(store.engine) as session:
        session.query(SampleItem).delete()
        session.query(Sample).delete()
    with session_scope(store.engine) as session:
        ctx: Any = build_report_context(
            session,
            store.period,
            pseudonymize=pseudonymize,
            settings=Settings(),
            generated_at=datetime(2026, 11, 5, 7, 30, tzinfo=UTC),
            auditor_version="0.1.0",
            policy_revision=None,
            scanner_revision=None,
        )
    sealed = render_sealed_html(ctx)
    assert '<code id="manifest-sha256">none</code>' in sealed
    assert verify_html(sealed).ok
