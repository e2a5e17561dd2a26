"""The CLI as a user runs it: exit codes, messages naming file and line, nothing leaked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import Detection, Finding, Interaction
from auditor.db.session import make_engine, session_scope
from tests.conftest import DATA, chat_record, write_jsonl
from tests.serve.helpers import check_demo_accounts


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_version_and_help(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("--version")[:2] == (0, "auditor 0.1.0\n")
    code, out, _ = cli("--help")
    assert code == 0 and "review" in out


def test_usage_error_is_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("no-such-command")[0] == 2
    assert cli("sample", "draw")[0] == 2  # missing --period


@pytest.mark.both_databases
def test_library_error_is_one_line_with_hint(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("report", "--period", "2026-10")
    assert code == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_bad_config_names_file_and_key(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("--config", str(DATA / "config" / "unknown_key.toml"), "db", "upgrade")
    assert code == 1 and "unknown_key.toml" in err and "sample.colour" in err


@pytest.mark.both_databases
def test_ingest_reports_rejections_with_file_and_line(cli) -> None:  # type: ignore[no-untyped-def]
    broken = str(DATA / "logs" / "broken.jsonl")
    code, out, err = cli("ingest", broken, "--format", "openai-chat")
    assert code == 0
    assert f"{broken}:2: rejected: not valid JSON" in err.replace("\n", "")
    assert f"{broken}:3: warning: invalid UTF-8 replaced" in err.replace("\n", "")
    assert f"{broken}:8: warning: empty prompt (kept)" in err.replace("\n", "")
    assert "<script>" not in out + err  # content never echoed


@pytest.mark.both_databases
def test_directory_sample_and_review_flow(cli, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("directory", "load", str(DATA / "people" / "people.csv"))[0] == 0
    logs = write_jsonl(
        tmp_path / "l.jsonl",
        [chat_record(f"e{i}", "hello", when=f"2026-10-{i + 1:02d}T09:00:00Z") for i in range(12)],
    )
    assert cli("ingest", str(logs))[0] == 0
    code, out, _ = cli("sample", "draw", "--period", "2026-10", "--size", "5", "--seed", "42")
    assert code == 0 and "5 of 12" in out
    sample_id = out.split("sample ", 1)[1].split(":", 1)[0]
    code, out, _ = cli("sample", "show", sample_id)
    manifest = json.loads(out)
    assert manifest["seed"] == 42 and len(manifest["listing"]) == 5
    assert cli("sample", "verify", sample_id)[0] == 0
    assert sample_id in cli("sample", "list")[1]

    # A finding to review (normally created by the pipeline).
    engine = make_engine(settings.database.url)
    with session_scope(engine) as s:
        iid = s.scalar(select(Interaction.id).limit(1))
        from datetime import datetime

        s.add(
            Finding(
                id="f" * 32,
                interaction_id=iid,
                rule_id="unapproved-tool",
                severity="high",
                title="Unapproved tool",
                message="m",
                masked_excerpt="[x] <b>",
                status="open",
                first_seen=datetime(2026, 11, 1),
                last_seen=datetime(2026, 11, 1),
            )
        )
    engine.dispose()
    code, out, _ = cli("review", "list")
    assert code == 0 and "ffffffffffff" in out and "[x] <b>" in out
    code, out, _ = cli(
        "review",
        "resolve",
        "ffffffff",
        "--disposition",
        "confirmed",
        "--note",
        "[bold]seen[/bold]",
        "--reviewer",
        "risk.officer",
    )
    assert code == 0 and "confirmed by risk.officer" in out
    code, out, _ = cli("review", "history", "ffffffff")
    assert "[bold]seen[/bold]" in out  # shown as written, not as markup
    assert "0 finding(s)" in cli("review", "list")[1]
    assert "1 finding(s)" in cli("review", "list", "--status", "all")[1]
    code, _, err = cli("review", "resolve", "ffffffff", "--disposition", "maybe", "--note", "x")
    assert code == 1 and "unknown disposition" in err


def test_policy_test_and_eval(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("policy", "test")
    assert code == 0 and " 0 failed" in out
    example = Path(__file__).parents[2] / "policies" / "examples" / "card_to_copilot.json"
    code, out, _ = cli("policy", "eval", "--input", str(example))
    decision = json.loads(out)
    assert code == 0
    assert "card-data-outside-pci-scope" in {v["rule_id"] for v in decision["violations"]}
    code, _, err = cli("policy", "eval", "--input", str(DATA / "logs" / "broken.jsonl"))
    assert code == 1 and "broken.jsonl" in err


@pytest.mark.both_databases
def test_run_exits_3_when_findings_await_review(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logs = write_jsonl(
        tmp_path / "l.jsonl",
        [chat_record("e1", "Summarise rates.", tool="deepseek-chat"), chat_record("e2", "Hi")],
    )
    code, out, err = cli("run", str(logs), "--people", str(DATA / "people" / "people.csv"))
    assert code == 3, err
    assert "await review" in err
    assert "report:" in out
    # A rerun with nothing new delivered is its own outcome (exit 6), not a repeat of 3.
    code, out, err = cli("run", str(logs))
    assert code == 6 and "skipped: already ingested" in out and "0 new" in out
    assert "no new interactions were delivered: 1 file(s) under" in err
    assert "1 already ingested" in err


@pytest.mark.both_databases
def test_run_exits_4_when_the_policy_engine_fails(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A pack that cannot be loaded: the run goes on, records every sampled interaction as
    # not evaluated, and says so with its own exit code rather than success.
    monkeypatch.setenv("AUDITOR_POLICY__DIRECTORY", str(tmp_path / "no-pack"))
    logs = write_jsonl(tmp_path / "l.jsonl", [chat_record("e1", "Hi"), chat_record("e2", "Yo")])
    code, out, err = cli("run", str(logs), "--people", str(DATA / "people" / "people.csv"))
    assert code == 4, err
    assert "2 sampled interaction(s) could not be evaluated" in err
    assert "report:" in out


def test_demo_end_to_end_small(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("demo", "--people", "40")
    assert code == 0, err
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])
    html = report.read_text()
    assert "People in directory</dt><dd>40" in html
    assert "tiers: non_user" in out and "violation(s)" in out
    # No detected value reaches the report: only masked excerpts.
    demo_db = make_engine(f"sqlite:///{settings.data_dir / 'demo' / 'auditor.db'}")
    with session_scope(demo_db) as s:
        rows = s.execute(
            select(
                Detection.field,
                Detection.start,
                Detection.end,
                Detection.entity_type,
                Interaction.prompt_text,
                Interaction.output_text,
            ).join(Interaction, Interaction.id == Detection.interaction_id)
        ).all()
    demo_db.dispose()
    values = {
        (p if f == "prompt" else o)[a:b]
        for f, a, b, kind, p, o in rows
        if kind in ("CREDIT_CARD", "US_SSN", "IBAN_CODE", "EMAIL_ADDRESS", "PHONE_NUMBER")
    }
    assert values, "the demo should plant detectable values"
    leaked = [v for v in values if v in html]
    assert not leaked, f"{len(leaked)} detected value(s) appear in the report"
    assert "[CREDIT_CARD]" in html
    # The demo's accounts sign in to the review application and see exactly their scope.
    accounts = re.findall(r"^  (demo-[a-z0-9-]+) +(\S+) +(\w+)", out, re.MULTILINE)
    assert [a[0] for a in accounts] == [
        "demo-reviewer",
        "demo-risk",
        "demo-manager-1",
        "demo-manager-2",
    ]
    assert "auditor serve --insecure-http" in out
    check_demo_accounts(settings, settings.data_dir / "demo" / "auditor.db", accounts)
