"""The HTML report: self-contained, escaped, strict, and free of raw text."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from auditor.config import Settings
from auditor.db.session import session_scope
from auditor.errors import AuditorError
from auditor.report.context import ReportContext, build_report_context
from auditor.report.integrity import render_signed_html, verify_report
from auditor.report.render import make_environment, render_html, write_report
from auditor.report.signing import ReportSigner, parse_public_key
from tests.report.page import csp_directives, executable_scripts, parse, script_admitted

SECTIONS = ("summary", "usage", "findings", "evidence", "method", "coverage", "provenance")


def build(store: Any, pseudonymize: Any, period: str | None = None, **kw: Any) -> ReportContext:
    settings = kw.pop("settings", None) or Settings()
    with session_scope(store.engine) as session:
        return build_report_context(
            session,
            store.period if period is None else period,
            pseudonymize=pseudonymize,
            settings=settings,
            generated_at=datetime(2026, 11, 5, 7, 30, tzinfo=UTC),
            auditor_version="0.1.0",
            policy_revision="pol-r1",
            scanner_revision="scan-r1",
            **kw,
        )


@pytest.fixture
def ctx(store, pseudonymize) -> ReportContext:
    return build(store, pseudonymize)


@pytest.fixture
def html(ctx) -> str:
    return render_html(ctx)


@pytest.mark.parametrize("section", SECTIONS)
def test_every_section_has_its_stable_id(html, section) -> None:
    assert len(re.findall(rf'<section id="{section}">', html)) == 1
    assert f'href="#{section}"' in html


def test_sections_come_in_order(html) -> None:
    positions = [html.index(f'<section id="{s}">') for s in SECTIONS]
    assert positions == sorted(positions)


def test_no_external_resources(html) -> None:
    assert "http://" not in html and "https://" not in html
    refs = re.findall(r"""\b(?:src|href|action|srcset|poster)\s*=\s*["']?([^"'\s>]*)""", html, re.I)
    assert refs, "the report has in-page links"
    assert [r for r in refs if not r.startswith("#")] == []
    # In-page references only: data URLs and the charts' own clip paths (url(#id)).
    assert re.findall(r"url\(\s*['\"]?(?!data:|#)", html) == []
    assert "@import" not in html
    assert "<link" not in html.lower()
    assert "<img" not in html.lower() and "<iframe" not in html.lower()


@pytest.mark.parametrize(
    "needle",
    [
        '<meta name="referrer" content="no-referrer">',
        "<style>",
        "@media print",
        "size: A4",
    ],
)
def test_head_is_locked_down_and_styles_inline(html, needle) -> None:
    assert needle in html


def test_no_raw_text_or_secret_values(store, html) -> None:
    leaked = [i for i, text in enumerate(store.texts) if text in html]
    assert leaked == [], "raw prompt/output text reached the report"
    leaked = [i for i, value in enumerate(store.secrets) if value in html]
    assert leaked == [], "a secret value reached the report"
    # The masked excerpt is what stands in for the value.
    assert "****-****-****-1111" in html


def test_review_note_is_escaped_and_not_evaluated(html) -> None:
    assert "&lt;b&gt;html&lt;/b&gt; looked like a public figure {{ 7*7 }}" in html
    assert "<b>html</b>" not in html


def test_review_disposition_badge_has_the_status_class(html) -> None:
    # The store records the disposition as `auditor review` takes it: "false-positive".
    assert '<td><span class="badge st st-false_positive">false positive</span></td>' in html
    assert "st-false-positive" not in html


@pytest.mark.parametrize(
    "needle",
    [
        "Figures cover sample <code>s-new</code>",
        "findings on the interactions of sample <code>s-new</code>",
        "<h3>Files that loaded nothing</h3>",
        "2026-10-04 to 2026-10-31 (28 days)",
        '<span class="badge st st-superseded">superseded</span>',
    ],
)
def test_report_states_its_scope(html, needle) -> None:
    assert needle in html


def test_masked_excerpt_placeholders_are_escaped(html) -> None:
    assert "summarise the call with &lt;PERSON&gt;" in html
    assert "<PERSON>" not in html


def test_finding_id_short_with_full_title(store, html) -> None:
    full = store.finding_ids["F1"]
    assert f'<span class="finding-id" title="{full}">{full[:12]}</span>' in html


@pytest.mark.parametrize(
    ("reidentify", "present", "absent"),
    [
        (False, ["pseudo:u1", "pseudo:m1", "pseudo:u2"], ["Alice Smith", "Dana Manager", "Bob"]),
        (True, ["Bob Jones", "Dana Manager", "pseudo:u1"], ["Alice Smith"]),
    ],
)
def test_pseudonyms_unless_reidentified(store, pseudonymize, reidentify, present, absent) -> None:
    page = render_html(build(store, pseudonymize, reidentify=reidentify))

    def show(token: str) -> str:
        return pseudonymize(token.removeprefix("pseudo:")) if token.startswith("pseudo:") else token

    assert [t for t in present if show(t) not in page] == []
    assert [t for t in absent if show(t) in page] == []


def test_severity_badges_carry_text_labels(html) -> None:
    for label in ("CRITICAL", "HIGH", "MEDIUM", "LOW"):
        assert re.search(rf'<span class="badge sev sev-{label.lower()}">{label}</span>', html)


def test_method_shows_manifest_and_verification_command(html) -> None:
    assert "auditor sample verify s-new" in html
    assert "f6" * 32 in html
    assert "<code>ev-3</code>" in html


def test_method_shows_the_rule_count_of_each_counted_pack(html) -> None:
    assert "Rules in the policy pack" in html
    assert "<code>pol-r1</code>: 16 rules (embedded)" in html


def test_source_paths_are_reduced_to_file_names(html) -> None:
    assert "chatgpt-2026-10.jsonl" in html and "broken.csv" in html
    assert "/var/log" not in html and "secret-share" not in html


@pytest.mark.parametrize(
    ("period", "notices"),
    [
        ("2026-09", ["No sample drawn for 2026-09", "No findings for 2026-09"]),
        ("2026-11", ["No sample drawn for 2026-11", "No usage tiers were computed"]),
    ],
)
def test_sparse_periods_say_what_is_missing(store, pseudonymize, period, notices) -> None:
    page = render_html(build(store, pseudonymize, period))
    assert [n for n in notices if n not in page] == []
    assert all(f'<section id="{s}">' in page for s in SECTIONS)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ctx.summary.no_such_field }}",
        "{{ ctx.summary.population.nope | num }}",
        "{{ ctx.summary.missing_rate | pct }}",
        "{{ ctx.evidence.findings[0].missing_at | when }}",
        "{{ ctx.method.manifest.nope | dash }}",
        "{{ ctx.findings.nope | label }}",
        "{% for x in ctx.evidence.findings %}{{ x.missing }}{% endfor %}",
        "{{ nothing_passed }}",
    ],
)
def test_strict_undefined_catches_missing_fields(store, pseudonymize, source) -> None:
    ctx = build(store, pseudonymize)
    env = make_environment()
    with pytest.raises(UndefinedError):
        env.from_string(source).render(ctx=ctx)


@pytest.mark.parametrize("name", ["report.html", "_evidence.html", "report.css"])
def test_environment_autoescapes_templates_and_strings(name) -> None:
    env = make_environment()
    assert env.autoescape(name) is True  # type: ignore[operator]
    assert env.from_string("{{ v }}").render(v="<i>x</i>") == "&lt;i&gt;x&lt;/i&gt;"


def test_write_report_is_atomic_and_named_by_period(store, pseudonymize, tmp_path) -> None:
    ctx = build(store, pseudonymize)
    signer = ReportSigner.generate()
    out = tmp_path / "reports" / "nested"
    path = write_report(ctx, out, signer=signer)
    assert path == out / "audit-2026-10.html"
    # Signed over the exact bytes written (Ed25519 signatures are deterministic).
    assert path.read_bytes() == render_signed_html(ctx, signer)
    # Writing again replaces the file in place and leaves no temporary files behind.
    path.write_text("stale", encoding="utf-8")
    assert write_report(ctx, out, signer=signer) == path
    assert path.read_bytes() == render_signed_html(ctx, signer)
    assert sorted(os.listdir(out)) == ["audit-2026-10.html"]
    assert verify_report(path, public_key=parse_public_key(signer.public_key_pem)).ok


def test_write_report_failure_is_an_auditor_error(store, pseudonymize, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(AuditorError) as err:
        write_report(build(store, pseudonymize), blocker)
    assert err.value.hint
    assert not list(Path(tmp_path).glob("*.tmp"))


def test_csp_admits_only_the_page_script_by_hash(html) -> None:
    csp = csp_directives(html)
    assert csp["default-src"] == ["'none'"]
    assert csp["style-src"] == ["'unsafe-inline'"] and csp["img-src"] == ["data:"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    (source,) = csp["script-src"]  # one hash; no 'unsafe-inline', no 'unsafe-eval', no host
    assert source.startswith("'sha256-")
    (script,) = executable_scripts(html)
    assert script_admitted(html, script)
    assert [attrs for attrs, _ in parse(html).scripts if "src" in attrs] == []


@pytest.mark.parametrize(
    "forbidden",
    [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "fetch(",
        "XMLHttpRequest",
        "WebSocket",
        "http:",
        "https:",
        "import(",
        "localStorage",
    ],
)
def test_page_script_reads_the_table_only(html, forbidden) -> None:
    (script,) = executable_scripts(html)
    assert forbidden not in script


def test_a_changed_script_is_not_admitted(html) -> None:
    (script,) = executable_scripts(html)
    assert not script_admitted(html, script.replace("hidden", "hidden "))


def test_findings_index_lists_every_shown_finding_in_order(html, ctx) -> None:
    table = html[html.index('<table class="data findings-index"') :]
    table = table[: table.index("</table>")]
    links = re.findall(r'<a href="#finding-([0-9a-f]+)">', table)
    assert links == [f.short_id for f in ctx.evidence.findings]
    assert len(links) > 0
    # Every index row points at an evidence article that exists.
    assert all(f'id="finding-{short}"' in html for short in links)
