"""Render the report context to one self-contained HTML file.

HTML is produced only through Jinja2 with autoescape and StrictUndefined: every value a
reviewer or a log could influence (notes, excerpts, tool names) is escaped, and a template
that names a field the context lacks fails loudly instead of printing an empty cell.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined, select_autoescape
from markupsafe import Markup

from auditor.errors import AuditorError
from auditor.report.context import SEVERITIES, ReportContext

if TYPE_CHECKING:
    from auditor.report.signing import ReportSigner

DASH = "—"


def _defined(value: Any) -> Any:
    """Fail on an undefined value inside a filter, as StrictUndefined does everywhere else.

    A filter that formats its argument would otherwise turn a misspelt field into a TypeError
    (or, with a lenient Undefined, a blank cell) instead of the UndefinedError naming it.
    """
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError here
        return None
    return value


def _dash(value: Any) -> Any:
    """Show a missing value as a dash rather than "None" or an empty cell."""
    value = _defined(value)
    return DASH if value is None or value == "" else value


def _num(value: int | None) -> str:
    value = _defined(value)
    return DASH if value is None else f"{value:,}"


def _pct(value: float | None, digits: int = 1) -> str:
    value = _defined(value)
    return DASH if value is None else f"{value * 100:.{digits}f}%"


def _rate(value: float | None) -> str:
    """An estimated rate, stated as everywhere else (sample.stats.stated_rate)."""
    from auditor.sample.stats import stated_rate

    value = _defined(value)
    return DASH if value is None else stated_rate(value)


def _when(value: datetime | None) -> str:
    """Timestamps are naive UTC in the store; say so once per value, to the minute."""
    value = _defined(value)
    return DASH if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _label(value: str) -> str:
    """Machine vocabulary to words: "false_positive" -> "false positive"."""
    return str(_defined(value)).replace("_", " ")


def _status_key(value: str) -> str:
    """A finding status or a review disposition in the status vocabulary, for badge classes.

    Dispositions are spelt with hyphens ("false-positive"), statuses with underscores
    ("false_positive"); anything outside [a-z0-9_] becomes "_" so a class is always one token.
    """
    return re.sub(r"[^a-z0-9_]", "_", str(_defined(value)).strip().lower().replace("-", "_"))


def _severity_rank(value: str) -> int:
    """Sort key of a severity: critical 0 … low 3, anything else after them."""
    value = _defined(value)
    return SEVERITIES.index(value) if value in SEVERITIES else len(SEVERITIES)


def page_script(env: Environment) -> tuple[Markup, Markup]:
    """The page's one executable script (templates/report.js) and its CSP source expression.

    The Content-Security-Policy admits exactly this script by its SHA-256, so an injected
    script, or this one altered, does not run. The file is ours, static and contains no
    `</script`; it is marked safe only so autoescape leaves its quotes alone.
    """
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, "report.js")
    if "</script" in source.lower():
        raise AuditorError("templates/report.js must not contain '</script'")
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    return Markup(source), Markup(f"'sha256-{digest}'")


def make_environment() -> Environment:
    """The one Jinja2 environment reports are rendered with (templates from the package)."""
    env = Environment(
        loader=PackageLoader("auditor.report", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        dash=_dash, num=_num, pct=_pct, rate=_rate, when=_when, label=_label, status_key=_status_key
    )
    env.globals["severity_rank"] = _severity_rank
    return env


def render_html(context: ReportContext, *, environment: Environment | None = None) -> str:
    """Render the full HTML report for `context`."""
    from auditor.report.charts import report_charts

    env = environment or make_environment()
    script, script_source = page_script(env)
    return env.get_template("report.html").render(
        ctx=context, charts=report_charts(context), script=script, script_source=script_source
    )


def report_filename(period: str, packet: str | None = None, version: int = 1) -> str:
    """`audit-<period>.html`, or `audit-<period>-<packet>.html` for a manager packet; from
    version 2 on `audit-<period>.v<n>.html` (`versions.file_name`)."""
    from auditor.report.versions import file_name

    return file_name(period, "html", packet, version)


def write_report(
    context: ReportContext,
    output_dir: Path,
    *,
    packet: str | None = None,
    signer: ReportSigner | None = None,
) -> Path:
    """Write `audit-<period>.html` (`audit-<period>.v<n>.html` for the context's version n > 1)
    into `output_dir` atomically and return its path.

    With a signer the page ends with its Ed25519 signature (`integrity.render_signed_html`);
    without one it is written unsigned, and `auditor verify` refuses it. The file is written
    to a temporary file in the same folder and moved into place, so a reader never sees half
    a report. Raises AuditorError if the folder cannot be written.
    """
    from auditor.report.integrity import render_signed_html
    from auditor.report.writers import write_file

    page = render_signed_html(context, signer)
    version = context.version.number if context.version is not None else 1
    target = output_dir / report_filename(context.period, packet, version)
    try:
        # Owner-only: a report carries masked evidence about named staff.
        write_file(target, page)
    except AuditorError as exc:
        raise AuditorError(
            f"cannot write the report: {exc.message}",
            "check report.output_dir and its permissions",
        ) from None
    return target
