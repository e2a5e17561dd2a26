"""What the database keeps about written reports: signing keys' public halves, and each
report's SHA-256 and signature, so `auditor verify` can check a file against both.

Sessions are opened by the caller and passed in; nothing here commits.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.config import Settings
from auditor.db.models import ReportRecord, SigningKey
from auditor.errors import AuditorError
from auditor.report.signing import (
    ReportSigner,
    Signature,
    load_signer,
    parse_public_key,
    sig_path,
    split_html,
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def register_signing_key(session: Session, signer: ReportSigner) -> bool:
    """Record `signer`'s public key (once). True if it was not recorded before."""
    if session.get(SigningKey, signer.fingerprint) is not None:
        return False
    session.add(
        SigningKey(
            fingerprint=signer.fingerprint,
            public_key_pem=signer.public_key_pem,
            created_at=_now(),
        )
    )
    session.flush()
    return True


def report_signer(session: Session, settings: Settings) -> ReportSigner:
    """The deployment's signer (`signing.load_signer`), its public key recorded in the
    database. `created` on the result is true when the key is new to this database: the
    caller prints its fingerprint and public key then. Raises AuditorError (see load_signer)."""
    signer = load_signer(settings)
    new = register_signing_key(session, signer)
    if new != signer.created:
        signer = ReportSigner(signer.private_key, signer.fingerprint, signer.public_key_pem, new)
    return signer


def public_key_for(session: Session, fingerprint: str) -> Ed25519PublicKey | None:
    """The recorded public key with `fingerprint`, or None."""
    row = session.get(SigningKey, fingerprint)
    if row is None:
        return None
    return parse_public_key(row.public_key_pem, f"the recorded signing key {fingerprint}")


def read_signature(path: Path) -> Signature | None:
    """The signature of a written report: the HTML's trailer or the sibling's `.sig`."""
    if path.suffix.lower() in {".html", ".htm"}:
        return split_html(path.read_bytes())[1]
    sig = sig_path(path)
    return Signature.from_json(sig.read_bytes()) if sig.exists() else None


def record_report(
    session: Session,
    period: str,
    path: Path,
    *,
    series: str | None = None,
    version: int | None = None,
    run_id: str | None = None,
    inputs: dict[str, Any] | None = None,
    inputs_digest: str | None = None,
) -> ReportRecord:
    """Record (or update) the report written at `path`: the SHA-256 of the file as written,
    its signature and key fingerprint, and which version of which series it is, rendered by
    which run from which inputs (`versions`). Raises AuditorError if the file cannot be read."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        signature = read_signature(path)
    except OSError as exc:
        raise AuditorError(f"cannot read the report {path}: {exc.strerror or exc}") from None
    record = session.scalars(
        select(ReportRecord).where(ReportRecord.period == period, ReportRecord.path == str(path))
    ).first()
    if record is None:
        record = ReportRecord(period=period, path=str(path), sha256=digest, created_at=_now())
        session.add(record)
    record.sha256, record.created_at = digest, _now()
    record.signature = signature.signature if signature else None
    record.key_fingerprint = signature.key_fingerprint if signature else None
    record.series = series or path.name
    record.version = version or 1
    record.run_id, record.inputs, record.inputs_digest = run_id, inputs, inputs_digest
    session.flush()
    return record


def records_named(session: Session, name: str) -> list[ReportRecord]:
    """Every recorded report whose file is called `name` (in any folder), newest first."""
    rows = session.scalars(
        select(ReportRecord)
        .where(ReportRecord.path.endswith(name, autoescape=True))
        .order_by(ReportRecord.created_at.desc(), ReportRecord.id.desc())
    )
    return [r for r in rows if Path(r.path).name == name]
