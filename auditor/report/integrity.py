"""Tamper evidence for the HTML report: embedded data, its digest, and a digest of the page.

The page carries its own data (`to_json_dict`, canonical JSON) in a
`<script type="application/json" id="report-data">` block, a data block the browser never
executes (the page's CSP, `default-src 'none'`, forbids scripts anyway). The footer states:

- the data SHA-256: of the canonical JSON of the embedded data;
- the sample manifest SHA-256 (`ctx.method.manifest.manifest_sha256`), for `auditor sample
  verify`;
- the page SHA-256: of the whole page as rendered with `PAGE_PLACEHOLDER` in place of this
  digest. `seal` computes it and substitutes it; `verify_report` puts the placeholder back and
  hashes again, so a change of one character anywhere in the file is detected.

A digest is evidence of change, not of origin: whoever can rewrite the file can reseal it.
Keep the digest recorded by the pipeline (`ReportRecord.sha256`) or sign the file for that.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from auditor.errors import AuditorError
from auditor.report.context import ReportContext
from auditor.report.render import make_environment, render_html
from auditor.report.writers import canonical_json, to_json_dict

DATA_BLOCK_ID = "report-data"
# 64 characters like the digest it stands for, and spelt so no data or hex can contain it.
PAGE_PLACEHOLDER = "page-sha256-placeholder-" + "~" * 40
NO_MANIFEST = "none"

_HEX = "[0-9a-f]{64}"
_DATA_BLOCK = re.compile(
    rf'<script type="application/json" id="{DATA_BLOCK_ID}">(.*?)</script>', re.DOTALL
)
_DATA_DIGEST = re.compile(rf'<code id="data-sha256">({_HEX})</code>')
_MANIFEST_DIGEST = re.compile(rf'<code id="manifest-sha256">({_HEX}|{NO_MANIFEST})</code>')
_PAGE_DIGEST = re.compile(rf'<code id="page-sha256">({_HEX})</code>')


@dataclass(frozen=True, slots=True)
class Integrity:
    """What the template's data block and footer statement show."""

    data_json: Markup
    data_sha256: str
    manifest_sha256: str
    page_placeholder: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of `verify_report`; `reasons` says in words what failed (empty when ok)."""

    ok: bool
    data_digest_stated: str | None
    data_digest_actual: str | None
    html_intact: bool
    reasons: tuple[str, ...]


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


def integrity_values(ctx: ReportContext) -> Integrity:
    """The data block and digests for `ctx`, for the template's `integrity` variable."""
    canonical = canonical_json(to_json_dict(ctx))
    manifest = ctx.method.manifest
    return Integrity(
        data_json=Markup(embed_json(canonical)),  # noqa: S704 - escaped for script data above
        data_sha256=sha256_hex(canonical),
        manifest_sha256=manifest.manifest_sha256 if manifest is not None else NO_MANIFEST,
        page_placeholder=PAGE_PLACEHOLDER,
    )


def seal(html: str) -> str:
    """Replace the page-digest placeholder with the SHA-256 of the page as it stands.

    Raises AuditorError unless the placeholder occurs exactly once (a page rendered without
    the integrity values, or one that quotes the placeholder, cannot be sealed unambiguously).
    """
    count = html.count(PAGE_PLACEHOLDER)
    if count != 1:
        raise AuditorError(
            f"cannot seal the report: the page-digest placeholder occurs {count} times",
            "render the report with integrity_values(ctx) (render_sealed_html does)",
        )
    return html.replace(PAGE_PLACEHOLDER, sha256_hex(html))


def render_sealed_html(ctx: ReportContext) -> str:
    """The HTML report (`render_html`) with its embedded data and digests, sealed.

    The integrity values reach the template as a global of a fresh environment, so the page
    is rendered exactly as `render_html` renders it, whatever else that passes.
    """
    env = make_environment()
    env.globals["integrity"] = integrity_values(ctx)
    return seal(render_html(ctx, environment=env))


def _one(pattern: re.Pattern[str], html: str, what: str, reasons: list[str]) -> str | None:
    found = pattern.findall(html)
    if len(found) != 1:
        reasons.append(f"expected one {what}, found {len(found)}")
        return None
    value: str = found[0]
    return value


def verify_html(html: str) -> VerifyResult:
    """Check a sealed report's text: the page digest, the data digest, the manifest digest."""
    reasons: list[str] = []

    html_intact = False
    page_stated = _one(_PAGE_DIGEST, html, "stated page SHA-256", reasons)
    if page_stated is not None:
        unsealed = _PAGE_DIGEST.sub(f'<code id="page-sha256">{PAGE_PLACEHOLDER}</code>', html)
        html_intact = sha256_hex(unsealed) == page_stated
        if not html_intact:
            reasons.append("the page differs from the page its digest was computed over")

    stated = _one(_DATA_DIGEST, html, "stated data SHA-256", reasons)
    actual: str | None = None
    data: Any = None
    block = _one(_DATA_BLOCK, html, f"embedded data block #{DATA_BLOCK_ID}", reasons)
    if block is not None:
        try:
            data = json.loads(block)
        except ValueError:
            reasons.append("the embedded data is not valid JSON")
        else:
            actual = data_digest(data)
    if stated is not None and actual is not None and stated != actual:
        reasons.append("the embedded data does not match its stated SHA-256")

    manifest_stated = _one(_MANIFEST_DIGEST, html, "stated sample manifest SHA-256", reasons)
    if manifest_stated is not None and isinstance(data, dict):
        manifest = (data.get("method") or {}).get("manifest")
        embedded = manifest.get("manifest_sha256") if isinstance(manifest, dict) else NO_MANIFEST
        if embedded != manifest_stated:
            reasons.append("the stated sample manifest SHA-256 differs from the embedded data's")

    return VerifyResult(
        ok=not reasons,
        data_digest_stated=stated,
        data_digest_actual=actual,
        html_intact=html_intact,
        reasons=tuple(reasons),
    )


def verify_report(path: Path) -> VerifyResult:
    """Verify the report file at `path` (see `verify_html`).

    A tampered report is a result with ok=False, not an error. Raises AuditorError if the file
    cannot be read or is not UTF-8.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditorError(
            f"cannot read the report {path}: {exc.strerror or exc}",
            "give the path of an audit-<period>.html file",
        ) from None
    try:
        html = raw.decode("utf-8")
    except UnicodeDecodeError:
        return VerifyResult(False, None, None, False, ("the file is not UTF-8 text",))
    return verify_html(html)
