"""Signed reports end to end: the deployment key, the signature of every format, the digest
the database recorded, and what `auditor verify` says about a good and a forged report.

Cases from the adversarial review: 1 (a forged report verified), 4 (one hostile value blocked
the audit) and 14 (orphaned temporary files; bidi controls reaching the report)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import Finding, Interaction, Person, ReportRecord, SigningKey
from auditor.db.session import session_scope
from auditor.errors import AuditorError
from auditor.pipeline import render_report
from auditor.report.bidi import mark_text
from auditor.report.context import ReportContext, build_report_context
from auditor.report.integrity import data_digest, verify_report
from auditor.report.records import record_report, register_signing_key, report_signer
from auditor.report.render import write_report
from auditor.report.signing import (
    KEY_FILE,
    PUBLIC_KEY_FILE,
    ReportSigner,
    Signature,
    html_trailer,
    load_signer,
    parse_public_key,
    sig_path,
    split_html,
)
from auditor.report.writers import write_findings_csv, write_json, write_ocsf

Writer = Callable[..., Path]
WRITERS: dict[str, Writer] = {
    "html": write_report,
    "json": write_json,
    "csv": write_findings_csv,
    "ocsf": write_ocsf,
}
SIBLINGS = ("json", "csv", "ocsf")


def build(store: Any, pseudonymize: Any) -> ReportContext:
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


def publish(store: Any, ctx: ReportContext, signer: ReportSigner, out: Path, fmt: str) -> Path:
    """What the pipeline does: record the key, write the signed file, record its digest."""
    with session_scope(store.engine) as session:
        register_signing_key(session, signer)
        path = WRITERS[fmt](ctx, out, signer=signer)
        record_report(session, ctx.period, path)
    return path


def verify_with_db(store: Any, path: Path, **kw: Any) -> Any:
    with session_scope(store.engine) as session:
        return verify_report(path, session=session, **kw)


# --------------------------------------------------------------------------- case 1


def _demote_a_critical_finding(html: str) -> str:
    """The forger's edit: the first critical finding shown as low, in the visible page and in
    the embedded data, with the data digest recomputed by the project's own function."""
    start = html.index('<script type="application/json" id="report-data">')
    start = html.index(">", start) + 1
    end = html.index("</script>", start)
    data = json.loads(html[start:end])
    finding = next(f for f in data["evidence"]["findings"] if f["severity"] == "critical")
    finding["severity"] = "low"
    new_block = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    new_block = new_block.replace("<", "\\u003c")
    old_digest = html[html.index('<code id="data-sha256">') + 23 :][:64]
    forged = html[:start] + new_block + html[end:]
    forged = forged.replace(old_digest, data_digest(data))
    return forged.replace("critical", "low", 3)


def _forgeries(genuine: bytes, real: ReportSigner) -> dict[str, bytes]:
    body, signature = split_html(genuine)
    assert signature is not None
    edited = _demote_a_critical_finding(body.decode("utf-8")).encode("utf-8")
    own = ReportSigner.generate()
    own_sig = own.sign(edited)
    return {
        # The digest in the signature line recomputed, the old signature kept.
        "re-digested": edited + html_trailer(replace(signature, sha256=own_sig.sha256)),
        # Signed with a key of the forger's own.
        "own key": edited + html_trailer(own_sig),
        # Signed with the forger's key, claiming the deployment key's fingerprint.
        "own key, claimed fingerprint": edited
        + html_trailer(replace(own_sig, key_fingerprint=real.fingerprint)),
        # The signature line dropped.
        "unsigned": edited,
    }


@pytest.mark.parametrize(
    "forgery", ["re-digested", "own key", "own key, claimed fingerprint", "unsigned"]
)
@pytest.mark.parametrize("key_from", ["database", "--public-key"])
def test_case_1_forged_and_redigested_report_fails(
    store, pseudonymize, signer, tmp_path, forgery, key_from
) -> None:
    genuine = publish(store, build(store, pseudonymize), signer, tmp_path / "out", "html")
    forged = tmp_path / "forged" / genuine.name
    forged.parent.mkdir()
    forged.write_bytes(_forgeries(genuine.read_bytes(), signer)[forgery])
    # The forger's edit is internally consistent: the page's own data digest holds.
    key = parse_public_key(signer.public_key_pem) if key_from == "--public-key" else None

    result = verify_with_db(store, forged, public_key=key)
    assert not result.ok
    assert result.check("data SHA-256").ok
    assert result.check("signature").ok is False
    assert result.check("database record").ok is False
    # Without the database, the signature alone refuses it.
    assert not verify_report(forged, public_key=parse_public_key(signer.public_key_pem)).ok
    # The genuine report still verifies both ways.
    assert verify_with_db(store, genuine, public_key=key).ok


def _cli(monkeypatch, capsys, store, tmp_path, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", str(store.engine.url))
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    code = main(["verify", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_case_1_verify_command_says_which_check_failed(
    store, pseudonymize, signer, tmp_path, monkeypatch, capsys
) -> None:
    genuine = publish(store, build(store, pseudonymize), signer, tmp_path / "out", "html")
    code, out, err = _cli(monkeypatch, capsys, store, tmp_path, str(genuine))
    assert code == 0, err
    assert "signature: ok" in out and "database record: ok" in out
    assert "report verified" in out

    forged = tmp_path / "forged" / genuine.name
    forged.parent.mkdir()
    forged.write_bytes(_forgeries(genuine.read_bytes(), signer)["re-digested"])
    code, out, err = _cli(monkeypatch, capsys, store, tmp_path, str(forged))
    assert code == 1
    assert "FAILED: signature:" in err and "FAILED: database record:" in err
    assert "report verified" not in out


def test_verify_without_a_database_needs_the_public_key(
    store, pseudonymize, signer, tmp_path, monkeypatch, capsys
) -> None:
    genuine = publish(store, build(store, pseudonymize), signer, tmp_path / "out", "html")
    monkeypatch.setenv("AUDITOR_DATABASE__URL", f"sqlite:///{tmp_path / 'absent.db'}")
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(tmp_path / "data"))
    pub = tmp_path / "signer.pub.pem"
    pub.write_text(signer.public_key_pem, encoding="ascii")

    assert main(["verify", str(genuine)]) == 1
    assert "no public key" in capsys.readouterr().err
    assert main(["verify", str(genuine), "--public-key", str(pub)]) == 0
    out = capsys.readouterr()
    assert "report verified" in out.out and "database not consulted" in out.err
    assert not (tmp_path / "absent.db").exists()


# --------------------------------------------------------------------------- case 4

OLD_SEAL_PLACEHOLDER = "page-sha256-placeholder-" + "~" * 40
HOSTILE = [
    OLD_SEAL_PLACEHOLDER,
    "{{ 7*7 }}",
    "{% raw %}",
    "</script><script>alert(1)</script>",
    "<!--",
    "'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='",
    "'nonce-abc123'",
    '<!-- auditor-signature {"algorithm":"ed25519"} -->',
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_case_4_placeholder_in_every_field_reports_end_to_end(
    store, pseudonymize, signer, tmp_path, hostile
) -> None:
    with session_scope(store.engine) as session:
        session.execute(
            update(Interaction)
            .where(Interaction.event_id == "ev-3")
            .values(tool=hostile, model=hostile, event_id=hostile)
        )
        session.execute(update(Person).where(Person.user_id == "u2").values(department=hostile))
    ctx = build(store, pseudonymize)
    assert hostile in {t.tool for t in ctx.evidence.findings}
    for fmt in WRITERS:
        path = publish(store, ctx, signer, tmp_path / "out", fmt)
        result = verify_with_db(store, path)
        assert result.ok, (fmt, result.reasons)
    data = json.loads((tmp_path / "out" / "audit-2026-10.json").read_text(encoding="utf-8"))
    assert hostile in {f["tool"] for f in data["evidence"]["findings"]}
    # The pipeline's own report path renders it too.
    settings = Settings(
        data_dir=tmp_path / "data",
        scan={"hash_key": "test-key-not-secret-padded-to-32-bytes"},
        report={"output_dir": tmp_path / "pipeline"},
    )
    with session_scope(store.engine) as session:
        for fmt in WRITERS:
            assert render_report(session, store.period, settings, fmt=fmt).exists()


# --------------------------------------------------------------------------- siblings


@pytest.mark.parametrize("fmt", SIBLINGS)
def test_a_siblings_sig_is_verified_and_a_tampered_sibling_refused(
    store, pseudonymize, signer, tmp_path, fmt
) -> None:
    path = publish(store, build(store, pseudonymize), signer, tmp_path, fmt)
    sig = json.loads(sig_path(path).read_text(encoding="ascii"))
    assert set(sig) == {"algorithm", "key_fingerprint", "sha256", "signature"}
    assert sig["algorithm"] == "ed25519" and sig["key_fingerprint"] == signer.fingerprint
    assert stat.S_IMODE(sig_path(path).stat().st_mode) == 0o600
    assert verify_with_db(store, path).ok
    assert verify_with_db(store, sig_path(path)).ok  # named by its .sig

    original = path.read_bytes()
    path.write_bytes(original.replace(b"2026", b"2025", 1))
    result = verify_with_db(store, path)
    assert not result.ok
    assert result.check("signature").ok is False and result.check("signed SHA-256").ok is False
    assert result.check("database record").ok is False

    path.write_bytes(original)
    sig_path(path).unlink()
    result = verify_with_db(store, path)
    assert not result.ok and ".sig" in result.check("signature").detail


@pytest.mark.parametrize("fmt", SIBLINGS)
def test_a_sibling_written_unsigned_leaves_no_stale_sig(store, pseudonymize, signer, tmp_path, fmt):  # type: ignore[no-untyped-def]
    ctx = build(store, pseudonymize)
    path = WRITERS[fmt](ctx, tmp_path, signer=signer)
    assert sig_path(path).exists()
    WRITERS[fmt](ctx, tmp_path)
    assert not sig_path(path).exists()


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_a_wrong_public_key_is_refused(store, pseudonymize, signer, tmp_path, fmt) -> None:
    path = publish(store, build(store, pseudonymize), signer, tmp_path, fmt)
    other = parse_public_key(ReportSigner.generate().public_key_pem)
    result = verify_report(path, public_key=other)
    assert not result.ok
    assert result.check("signing key").ok is False
    assert result.check("signature").ok is False


def test_a_key_the_database_does_not_know_is_refused(store, pseudonymize, tmp_path) -> None:
    ctx = build(store, pseudonymize)
    path = write_report(ctx, tmp_path, signer=ReportSigner.generate())
    result = verify_with_db(store, path)
    assert not result.ok and "not recorded in the database" in result.check("signature").detail


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_a_database_digest_mismatch_is_refused(store, pseudonymize, signer, tmp_path, fmt):  # type: ignore[no-untyped-def]
    ctx = build(store, pseudonymize)
    path = publish(store, ctx, signer, tmp_path, fmt)
    # Validly signed (the key's holder), but not the report the database recorded.
    other = replace(ctx, audience="someone else", evidence=replace(ctx.evidence, findings=()))
    WRITERS[fmt](other, tmp_path, signer=signer)
    result = verify_with_db(store, path)
    assert result.check("signature").ok
    assert not result.ok
    assert "differs from the one recorded" in result.check("database record").detail
    # And a report the database has no record of at all.
    with session_scope(store.engine) as session:
        session.execute(ReportRecord.__table__.delete())
    result = verify_with_db(store, path)
    assert not result.ok and "no record" in result.check("database record").detail


def test_record_report_keeps_the_signature_and_key(store, pseudonymize, signer, tmp_path) -> None:
    for fmt in WRITERS:
        publish(store, build(store, pseudonymize), signer, tmp_path, fmt)
    with session_scope(store.engine) as session:
        rows = session.scalars(select(ReportRecord)).all()
        assert len(rows) == 4
        for row in rows:
            path = Path(row.path)
            raw = path.read_bytes()
            sig = (
                split_html(raw)[1]
                if path.suffix == ".html"
                else Signature.from_json(sig_path(path).read_bytes())
            )
            assert sig is not None
            assert (row.signature, row.key_fingerprint) == (sig.signature, signer.fingerprint)


# --------------------------------------------------------------------------- the key


def test_the_signing_key_is_created_once_owner_only_and_recorded(store, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with session_scope(store.engine) as session:
        first = report_signer(session, settings)
    assert first.created
    key_file = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (tmp_path / "data" / PUBLIC_KEY_FILE).read_text() == first.public_key_pem
    with session_scope(store.engine) as session:
        again = report_signer(session, settings)
        assert not again.created and again.fingerprint == first.fingerprint
        (row,) = session.scalars(select(SigningKey)).all()
        assert (row.fingerprint, row.public_key_pem) == (first.fingerprint, first.public_key_pem)
    assert "private_key" not in repr(first)


def test_a_configured_signing_key_is_used(tmp_path) -> None:
    own = ReportSigner.generate()
    pem = tmp_path / "signing.pem"
    pem.write_bytes(
        own.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem.chmod(0o600)
    settings = Settings(data_dir=tmp_path / "data", report={"signing_key": pem})
    assert load_signer(settings).fingerprint == own.fingerprint
    assert not (tmp_path / "data" / KEY_FILE).exists()


def test_a_signing_key_others_can_read_is_refused(tmp_path) -> None:
    own = ReportSigner.generate()
    pem = tmp_path / "signing.pem"
    pem.write_bytes(
        own.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem.chmod(0o644)
    settings = Settings(data_dir=tmp_path / "data", report={"signing_key": pem})
    with pytest.raises(AuditorError, match=r"can be read by others \(mode 644\)"):
        load_signer(settings)


@pytest.mark.parametrize("content", ["not a key", "ec"])
def test_an_unusable_signing_key_names_the_setting(tmp_path, content) -> None:
    pem = tmp_path / "signing.pem"
    if content == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    else:
        pem.write_text(content)
    with pytest.raises(AuditorError) as info:
        load_signer(Settings(data_dir=tmp_path, report={"signing_key": pem}))
    assert "report.signing_key" in info.value.message and info.value.hint


# --------------------------------------------------------------------------- case 14


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_case_14_orphan_tmp_cleaned(store, pseudonymize, signer, tmp_path, fmt) -> None:
    ctx = build(store, pseudonymize)
    path = WRITERS[fmt](ctx, tmp_path, signer=signer)
    # What a kill during an earlier write leaves: atomic_file's temporary files.
    orphans = [
        tmp_path / f".{path.name}.k1ll3d.tmp",
        tmp_path / f".{sig_path(path).name}.k1ll3d.tmp",
    ]
    unrelated = tmp_path / ".audit-2026-09.html.k1ll3d.tmp"
    for f in (*orphans, unrelated):
        f.write_text("half a report")
    WRITERS[fmt](ctx, tmp_path, signer=signer)
    assert not any(f.exists() for f in orphans)
    assert unrelated.exists()  # another report's: left for its own next write


BIDI = ("\u202e", "\u2066", "\u200f")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("invoice\u202efdp.exe", "invoice[U+202E]fdp.exe"),
        ("\u202a\u202b\u202c\u202d", "[U+202A][U+202B][U+202C][U+202D]"),
        ("\u2066x\u2067y\u2068z\u2069", "[U+2066]x[U+2067]y[U+2068]z[U+2069]"),
        ("\u200e\u200f\u061c", "[U+200E][U+200F][U+061C]"),
    ],
)
def test_bidi_controls_become_markers(text, shown) -> None:
    assert mark_text(text) == shown


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_case_14_bidi_shown_as_markers_in_each_format(
    store, pseudonymize, signer, tmp_path, fmt
) -> None:
    with session_scope(store.engine) as session:
        session.execute(
            update(Interaction)
            .where(Interaction.event_id == "ev-3")
            .values(tool="Chat\u202eTPG", model="gpt\u2066-4o")
        )
        session.execute(
            update(Person).where(Person.user_id == "u2").values(department="Re\u200ftail")
        )
        session.execute(
            update(Finding)
            .where(Finding.id == store.finding_ids["F1"])
            .values(masked_excerpt="card \u202e1111 for the client")
        )
    path = WRITERS[fmt](build(store, pseudonymize), tmp_path, signer=signer)
    text = path.read_text(encoding="utf-8")
    for control in BIDI:
        assert control not in text
    assert "Chat[U+202E]TPG" in text  # the tool, in every format
    assert "[U+202E]1111" in text  # the excerpt, in every format
    if fmt != "csv":
        assert "Re[U+200F]tail" in text  # the department (CSV: in its own column too)
