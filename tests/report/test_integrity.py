"""The signed HTML report: embedded data, stated digests, its signature, and detection of any
change."""

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
from auditor.report.integrity import data_digest, render_signed_html, verify_bytes, verify_report
from auditor.report.render import render_html
from auditor.report.signing import ReportSigner, parse_public_key, split_html
from auditor.report.writers import to_json_dict
from tests.report.page import executable_scripts, script_admitted

BLOCK = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)
NAME = "audit-2026-10.html"


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
def signer() -> ReportSigner:
    return ReportSigner.generate()


@pytest.fixture
def key(signer):  # type: ignore[no-untyped-def]
    return parse_public_key(signer.public_key_pem)


@pytest.fixture
def signed(ctx, signer) -> str:
    return render_signed_html(ctx, signer).decode("utf-8")


def check(html: str, key: Any) -> Any:
    return verify_bytes(html.encode("utf-8"), NAME, public_key=key)


def test_untouched_report_verifies(signed, ctx, key, tmp_path) -> None:
    path = tmp_path / NAME
    path.write_text(signed, encoding="utf-8")
    result = verify_report(path, public_key=key)
    assert result.ok and result.reasons == ()
    assert result.check("signature").ok and result.check("signed SHA-256").ok
    assert result.check("database record").ok is None  # no session given
    assert result.data_digest_stated == result.data_digest_actual == data_digest(to_json_dict(ctx))


def test_footer_states_the_digests_and_the_key(signed, ctx, signer) -> None:
    digest = data_digest(to_json_dict(ctx))
    assert f'data SHA-256: <code id="data-sha256">{digest}</code>' in signed
    manifest = ctx.method.manifest
    assert manifest is not None
    assert (
        f'sample manifest SHA-256: <code id="manifest-sha256">{manifest.manifest_sha256}</code>'
        in signed
    )
    assert f'<code id="signing-key">{signer.fingerprint}</code>' in signed


def test_the_signature_is_the_last_line_after_the_page(signed, signer) -> None:
    body, signature = split_html(signed.encode("utf-8"))
    assert signature is not None and signature.key_fingerprint == signer.fingerprint
    assert body.decode("utf-8").endswith("</html>\n")
    assert signed.endswith(" -->\n") and signed.count("auditor-signature") == 1


def test_embedded_data_is_the_report_data_and_cannot_close_its_tag(signed, ctx) -> None:
    (block,) = BLOCK.findall(signed)
    assert "<" not in block
    assert json.loads(block) == to_json_dict(ctx)
    # The block is data, never executed; the one executable script is the page's own.
    (script,) = executable_scripts(signed)
    assert script_admitted(signed, script)
    assert signed.lower().count("<script") == 2


def test_hostile_excerpt_stays_inside_the_data_block(ctx, signer, key) -> None:
    f = replace(ctx.evidence.findings[0], masked_excerpt="</script><!--<script>x")
    hostile = replace(ctx, evidence=replace(ctx.evidence, findings=(f,)))
    signed = render_signed_html(hostile, signer).decode("utf-8")
    (block,) = BLOCK.findall(signed)
    assert json.loads(block)["evidence"]["findings"][0]["masked_excerpt"] == f.masked_excerpt
    assert check(signed, key).ok


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


def _signature_index(html: str) -> int:
    return html.rindex('"signature":"') + len('"signature":"') + 3


@pytest.mark.parametrize(
    ("where", "index_of", "data_ok"),
    [
        ("visible text", _visible_index, True),
        ("embedded data", _data_index, False),
        ("stated data digest", _stated_index, False),
        ("last tag", _closing_index, True),
        ("signature", _signature_index, True),
    ],
)
def test_a_one_character_change_is_detected(signed, key, where, index_of, data_ok) -> None:
    tampered = flip(signed, index_of(signed))
    assert tampered != signed and len(tampered) == len(signed)
    result = check(tampered, key)
    assert not result.ok, where
    assert result.check("signature").ok is False, where
    assert (result.data_digest_stated == result.data_digest_actual) is data_ok


@pytest.mark.parametrize(
    ("mutate", "failed"),
    [
        (lambda h: BLOCK.sub("", h), "data SHA-256"),
        (lambda h: h.replace("</html>\n", "</html>\n" + BLOCK.search(h).group(0)), "data SHA-256"),  # type: ignore[union-attr]
        (
            lambda h: re.sub(r'<code id="signing-key">[0-9a-f]{64}</code>', "", h),
            "stated signing key",
        ),  # noqa: E501
        (
            lambda h: BLOCK.sub('<script type="application/json" id="report-data">{</script>', h),
            "data SHA-256",
        ),
        (lambda h: h[: h.rindex("<!-- auditor-signature")], "signature"),
        (lambda h: h + "<p>appended</p>\n", "signature"),
        (lambda h: h.replace('"algorithm":"ed25519"', '"algorithm":"none"'), "signature"),
        (lambda h: h.replace('"sha256":"', '"sha":"'), "signature"),
    ],  # fmt: skip
)
def test_structural_damage_is_named(signed, key, mutate, failed) -> None:
    result = check(mutate(signed), key)
    assert not result.ok
    assert result.check(failed).ok is False, result.reasons


def test_an_unsigned_page_verifies_false(ctx, key) -> None:
    """render_html without the integrity values has no block, no digests, no signature."""
    result = check(render_html(ctx), key)
    assert not result.ok and len(result.reasons) >= 3
    assert "no signature" in result.check("signature").detail


def test_a_page_written_without_a_signer_is_refused(ctx, key) -> None:
    result = check(render_signed_html(ctx, None).decode("utf-8"), key)
    assert not result.ok and result.check("signature").ok is False
    assert result.check("data SHA-256").ok  # the page's own statements still hold


def test_verify_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(AuditorError) as info:
        verify_report(tmp_path / "nope.html")
    assert info.value.hint


def test_verify_non_utf8_is_a_failed_result(tmp_path: Path) -> None:
    path = tmp_path / "bad.html"
    path.write_bytes(b"\xff\xfe\x00")
    assert not verify_report(path).ok


def test_no_sample_states_none_for_the_manifest(store, pseudonymize, signer, key) -> None:
    from auditor.db.models import PolicyEvaluation, Sample, SampleItem

    with session_scope(store.engine) as session:
        session.query(SampleItem).delete()
        session.query(PolicyEvaluation).delete()
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
    signed = render_signed_html(ctx, signer).decode("utf-8")
    assert '<code id="manifest-sha256">none</code>' in signed
    assert check(signed, key).ok
