"""The CLI as a user runs it: exit codes, messages naming file and line, nothing leaked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import Finding, Interaction
from auditor.db.session import make_engine, session_scope
from tests.conftest import DATA, chat_record, write_jsonl


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key")
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


def test_library_error_is_one_line_with_hint(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("report", "--period", "2026-10")
    assert code == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_bad_config_names_file_and_key(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("--config", str(DATA / "config" / "unknown_key.toml"), "db", "upgrade")
    assert code == 1 and "unknown_key.toml" in err and "sample.colour" in err


def test_ingest_reports_rejections_with_file_and_line(cli) -> None:  # type: ignore[no-untyped-def]
    broken = str(DATA / "logs" / "broken.jsonl")
    code, out, err = cli("ingest", broken, "--format", "openai-chat")
    assert code == 0
    assert f"{broken}:2: rejected: not valid JSON" in err.replace("\n", "")
    assert f"{broken}:3: rejected: not valid UTF-8" in err.replace("\n", "")
    assert "<script>" not in out + err  # content never echoed


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
