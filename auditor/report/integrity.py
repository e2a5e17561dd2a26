"""Tamper evidence for reports: embedded data, its digest, an Ed25519 signature, and the
digest the database recorded when the report was written.

The HTML page carries its own data (`to_json_dict`, canonical JSON) in a
`<script type="application/json" id="report-data">` block, a data block the browser never
executes (the page's CSP, `default-src 'none'`, forbids scripts anyway). The footer states the
data SHA-256 (of the canonical JSON of the embedded data), the sample manifest SHA-256
(`ctx.method.manifest.manifest_sha256`, for `auditor sample verify`) and the fingerprint of the
key that signs the page.

The page is signed after rendering, over the exact bytes written: its last line is a comment
holding the SHA-256 of every byte before it and their Ed25519 signature (`signing`). Nothing
inside the content is special, so no value from a log can stop a report from being signed.
The JSON, CSV and OCSF files carry the same signature in a detached `<name>.sig`.

A digest shows change; the signature shows origin: a report edited and re-digested by anyone
without the deployment's private key fails `verify_report`. Where the database is at hand,
the file's SHA-256 is also compared with the one recorded when it was written.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from auditor.errors import AuditorError
from auditor.report.context import ReportContext
from auditor.report.render import make_environment, render_html
from auditor.report.signing import (
    ReportSigner,
    Signature,
    check_signature,
    html_trailer,
    key_fingerprint,
    sig_path,
    split_html,
)
from auditor.report.writers import canonical_json, to_json_dict

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from sqlalchemy.orm import Session

DATA_BLOCK_ID = "report-data"
NO_MANIFEST = "none"
HTML_SUFFIXES = (".html", ".htm")

_HEX = "[0-9a-f]{64}"
_DATA_BLOCK = re.compile(
    rf'<script type="application/json" id="{DATA_BLOCK_ID}">(.*?)</script>', re.DOTALL
)
_DATA_DIGEST = re.compile(rf'<code id="data-sha256">({_HEX})</code>')
_MANIFEST_DIGEST = re.compile(rf'<code id="manifest-sha256">({_HEX}|{NO_MANIFEST})</code>')
_KEY_STATED = re.compile(rf'<code id="signing-key">({_HEX})</code>')


@dataclass(frozen=True, slots=True)
class Integrity:
    """What the template's data block and footer statement show."""

    data_json: Markup
    data_sha256: str
    manifest_sha256: str
    key_fingerprint: str | None


@dataclass(frozen=True, slots=True)
class Check:
    """One check of `verify_report`: passed (True), failed (False) or not made (None)."""

    name: str
    ok: bool | None
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of `verify_report`; `reasons` says in words what failed (empty when ok)."""

    ok: bool
    checks: tuple[Check, ...]
    file_sha256: str | None = None
    key_fingerprint: str | None = None
    data_digest_stated: str | None = None
    data_digest_actual: str | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{c.name}: {c.detail}" for c in self.checks if c.ok is False)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_digest(data: Any) -> str:
    """SHA-256 of the canonical JSON of `data` (sorted keys, no spaces, UTF-8)."""
    return sha256_hex(canonical_json(data))


def embed_json(text: str) -> str:
    """JSON text made safe inside a script data block.

    Every "<" becomes the JSON escape \\u003c: no "</script" can close the block early and no
    "<!--" can switch the parser into its escaped states. The brief's `<\\/` would cover the
    first only; a masked excerpt from a log can hold either. JSON "<" appears only inside
    strings, where the escape parses back to the same value.
    """
    return text.replace("<", "\\u003c")


def integrity_values(ctx: ReportContext, key_fingerprint: str | None = None) -> Integrity:
    """The data block and digests for `ctx`, for the template's `integrity` variable."""
    canonical = canonical_json(to_json_dict(ctx))
    manifest = ctx.method.manifest
    return Integrity(
        data_json=Markup(embed_json(canonical)),  # noqa: S704 - escaped for script data above
        data_sha256=sha256_hex(canonical),
        manifest_sha256=manifest.manifest_sha256 if manifest is not None else NO_MANIFEST,
        key_fingerprint=key_fingerprint,
    )


def render_signed_html(ctx: ReportContext, signer: ReportSigner | None) -> bytes:
    """The HTML report (`render_html`) with its embedded data and digests, as the bytes to
    write: UTF-8, ending with the signature line when there is a signer.

    The integrity values reach the template as a global of a fresh environment, so the page
    is rendered exactly as `render_html` renders it, whatever else that passes.
    """
    env = make_environment()
    env.globals["integrity"] = integrity_values(ctx, signer.fingerprint if signer else None)
    page = render_html(ctx, environment=env).encode("utf-8")
    return page if signer is None else page + html_trailer(signer.sign(page))


# --------------------------------------------------------------------------- verification


def _one(pattern: re.Pattern[str], html: str) -> tuple[str | None, str]:
    found = pattern.findall(html)
    if len(found) != 1:
        return None, f"expected one, found {len(found)}"
    value: str = found[0]
    return value, ""


def _content_checks(
    html: str, signature: Signature | None
) -> tuple[list[Check], str | None, str | None]:
    """The page's own statements: data digest, manifest digest, signing key."""
    checks: list[Check] = []
    stated, why = _one(_DATA_DIGEST, html)
    actual: str | None = None
    data: Any = None
    block, block_why = _one(_DATA_BLOCK, html)
    if block is None:
        checks.append(
            Check("data SHA-256", False, f"embedded data block #{DATA_BLOCK_ID}: {block_why}")
        )
    elif stated is None:
        checks.append(Check("data SHA-256", False, f"stated data SHA-256: {why}"))
    else:
        try:
            data = json.loads(block)
        except ValueError:
            checks.append(Check("data SHA-256", False, "the embedded data is not valid JSON"))
        else:
            actual = data_digest(data)
            if actual == stated:
                checks.append(Check("data SHA-256", True, stated))
            else:
                checks.append(
                    Check(
                        "data SHA-256", False, "the embedded data does not match its stated SHA-256"
                    )
                )

    manifest_stated, why = _one(_MANIFEST_DIGEST, html)
    if manifest_stated is None:
        checks.append(Check("sample manifest SHA-256", False, f"stated manifest SHA-256: {why}"))
    elif isinstance(data, dict):
        manifest = (data.get("method") or {}).get("manifest")
        embedded = manifest.get("manifest_sha256") if isinstance(manifest, dict) else NO_MANIFEST
        if embedded == manifest_stated:
            checks.append(Check("sample manifest SHA-256", True, manifest_stated))
        else:
            checks.append(
                Check(
                    "sample manifest SHA-256",
                    False,
                    "the stated sample manifest SHA-256 differs from the embedded data's",
                )
            )
    else:
        checks.append(Check("sample manifest SHA-256", None, "no embedded data to compare with"))

    key_stated, why = _one(_KEY_STATED, html)
    if key_stated is None:
        checks.append(Check("stated signing key", False, f"the page's signing key: {why}"))
    elif signature is not None and key_stated != signature.key_fingerprint:
        checks.append(
            Check(
                "stated signing key",
                False,
                f"the page states key {key_stated}, "
                f"its signature names {signature.key_fingerprint}",
            )
        )
    else:
        checks.append(Check("stated signing key", True, key_stated))
    return checks, stated, actual


def _signature_checks(
    signed: bytes,
    signature: Signature | None,
    public_key: Ed25519PublicKey | None,
    session: Session | None,
    where: str,
) -> list[Check]:
    if signature is None:
        return [Check("signature", False, f"the report carries no signature ({where})")]
    checks: list[Check] = []
    actual = hashlib.sha256(signed).hexdigest()
    if signature.sha256 == actual:
        checks.append(Check("signed SHA-256", True, actual))
    else:
        checks.append(
            Check("signed SHA-256", False, "the file differs from the SHA-256 its signature states")
        )
    key = public_key
    if key is not None:
        given = key_fingerprint(key)
        if given != signature.key_fingerprint:
            checks.append(
                Check(
                    "signing key",
                    False,
                    f"the signature names key {signature.key_fingerprint}, the public key given "
                    f"is {given}",
                )
            )
    elif session is not None:
        from auditor.report.records import public_key_for

        key = public_key_for(session, signature.key_fingerprint)
        if key is None:
            return [
                *checks,
                Check(
                    "signature",
                    False,
                    f"the signing key {signature.key_fingerprint} is not recorded in the "
                    "database: give its public key with --public-key",
                ),
            ]
    else:
        return [
            *checks,
            Check(
                "signature",
                False,
                "no public key to check it with: give --public-key FILE, or run where the "
                "database is reachable",
            ),
        ]
    problem = check_signature(key, signature, signed)
    checks.append(
        Check("signature", problem is None, problem or f"Ed25519, key {key_fingerprint(key)}")
    )
    return checks


def _database_check(session: Session | None, name: str, file_sha256: str) -> Check:
    if session is None:
        return Check("database record", None, "no database reachable")
    from auditor.report.records import records_named

    records = records_named(session, name)
    if not records:
        return Check(
            "database record", False, f"the database has no record of a report named {name}"
        )
    for record in records:
        if record.sha256 == file_sha256:
            return Check(
                "database record",
                True,
                "matches the SHA-256 recorded when it was written "
                f"({record.created_at:%Y-%m-%d %H:%M} UTC)",
            )
    newest = records[0]
    return Check(
        "database record",
        False,
        f"the file's SHA-256 differs from the one recorded when it was written "
        f"({newest.sha256}, {newest.created_at:%Y-%m-%d %H:%M} UTC)",
    )


def verify_bytes(
    raw: bytes,
    name: str,
    *,
    sidecar: bytes | None = None,
    public_key: Ed25519PublicKey | None = None,
    session: Session | None = None,
) -> VerifyResult:
    """Verify a report's bytes: an HTML page (`name` ends .html) by its signature line and
    its own statements, any other file by its detached signature `sidecar` (the `.sig`
    content, None if missing); then, with a session, against the recorded SHA-256."""
    file_sha256 = hashlib.sha256(raw).hexdigest()
    checks: list[Check] = []
    signature: Signature | None = None
    stated = actual = None
    is_html = name.lower().endswith(HTML_SUFFIXES)
    try:
        if is_html:
            signed, signature = split_html(raw)
        else:
            signed = raw
            signature = Signature.from_json(sidecar) if sidecar is not None else None
    except AuditorError as exc:
        checks.append(Check("signature", False, exc.message))
        signed = raw
    else:
        where = "no signature line at its end" if is_html else f"no {name}.sig beside it"
        checks.extend(_signature_checks(signed, signature, public_key, session, where))
    if is_html:
        try:
            html = signed.decode("utf-8")
        except UnicodeDecodeError:
            checks.append(Check("data SHA-256", False, "the file is not UTF-8 text"))
        else:
            content, stated, actual = _content_checks(html, signature)
            checks.extend(content)
    checks.append(_database_check(session, name, file_sha256))
    return VerifyResult(
        ok=not any(c.ok is False for c in checks),
        checks=tuple(checks),
        file_sha256=file_sha256,
        key_fingerprint=signature.key_fingerprint if signature else None,
        data_digest_stated=stated,
        data_digest_actual=actual,
    )


def verify_report(
    path: Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    session: Session | None = None,
) -> VerifyResult:
    """Verify the report file at `path` (`verify_bytes`); `path` may name a `.sig` for the
    file beside it.

    A tampered report is a result with ok=False, not an error. Raises AuditorError if the file
    cannot be read.
    """
    if path.name.endswith(".sig"):
        path = path.with_name(path.name.removesuffix(".sig"))
    try:
        raw = path.read_bytes()
        sig = sig_path(path)
        sidecar = None
        if not path.name.lower().endswith(HTML_SUFFIXES) and sig.exists():
            sidecar = sig.read_bytes()
    except OSError as exc:
        raise AuditorError(
            f"cannot read the report {path}: {exc.strerror or exc}",
            "give the path of an audit-<period>.html file or one of its siblings",
        ) from None
    return verify_bytes(raw, path.name, sidecar=sidecar, public_key=public_key, session=session)
