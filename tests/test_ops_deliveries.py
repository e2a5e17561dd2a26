"""Expected deliveries: a declared source that delivered nothing, too little or too late is
named and makes `auditor run` exit 7; too much rejected input exits 8; neither is ever a
silent 0. The checks count stored interactions by day, so a rerun gives the same answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.cli import main
from auditor.config import FeedSettings, Settings, SourcesSettings, load_settings
from auditor.db.models import Interaction, Run, SourceFile
from auditor.db.session import make_engine, session_scope
from auditor.errors import ConfigError
from auditor.ingest.stage import FileResult
from auditor.ops.deliveries import (
    check_deliveries,
    input_problems,
    periods_to_check,
)
from tests.conftest import chat_record, write_jsonl


def _deliver(session: Session, source: str | None, per_day: dict[date, int]) -> None:
    sf = SourceFile(
        path=f"/logs/{source}.jsonl",
        sha256=f"{source}-{len(per_day)}".ljust(64, "0"),
        size_bytes=1,
        source_format="openai-chat",
        ingested_at=datetime(2026, 11, 1),
        source_name=source,
    )
    session.add(sf)
    session.flush()
    n = 0
    for day, count in per_day.items():
        for i in range(count):
            n += 1
            session.add(
                Interaction(
                    event_id=f"{source}-{n}",
                    source_format="openai-chat",
                    source_file_id=sf.id,
                    occurred_at=datetime(day.year, day.month, day.day, 9) + timedelta(minutes=i),
                    user_id="u00001",
                    content_status="present",
                    history_turns=0,
                    attributes={},
                )
            )
    session.flush()


OCTOBER = {date(2026, 10, d): 3 for d in range(1, 32)}


@dataclass(frozen=True)
class Case:
    name: str
    delivered: dict[date, int]
    feed: dict[str, Any]
    today: date
    lines: list[str]


CASES = [
    Case("every day delivered", OCTOBER, {"min_records_per_day": 3}, date(2026, 11, 1), []),
    Case(
        "two days short, one of them empty",
        {**OCTOBER, date(2026, 10, 6): 0, date(2026, 10, 7): 1},
        {"min_records_per_day": 2},
        date(2026, 11, 1),
        [
            "source gw: 2 day(s) of 2026-10 delivered fewer than 2 interactions (1 none at "
            "all): 2026-10-06, 2026-10-07"
        ],
    ),
    Case(
        "a month short",
        OCTOBER,
        {"min_records_per_period": 100},
        date(2026, 11, 1),
        ["source gw: 2026-10 delivered 93 interactions, 100 expected"],
    ),
    Case(
        # Ten of 31 days elapsed (1-10 October): held to its share, ceil(100 * 10 / 31) = 33.
        "a month in progress is held to its share",
        {date(2026, 10, d): 4 for d in range(1, 11)},
        {"min_records_per_period": 100},
        date(2026, 10, 11),
        [],
    ),
    Case(
        "a month in progress, short of its share",
        {date(2026, 10, d): 3 for d in range(1, 10)},
        {"min_records_per_period": 100},
        date(2026, 10, 11),
        ["source gw: 2026-10 delivered 27 interactions, 33 expected (10 of 31 days)"],
    ),
    Case(
        "today is not checked, yesterday is",
        {date(2026, 10, d): 3 for d in range(1, 10)},
        {"min_records_per_day": 1},
        date(2026, 10, 11),
        [
            "source gw: 1 day(s) of 2026-10 delivered fewer than 1 interactions (1 none at all): "
            "2026-10-10"
        ],
    ),
    Case("no minimum, no check", {}, {}, date(2026, 11, 1), []),
    Case(
        "days before the source was expected are not checked",
        {date(2026, 10, d): 3 for d in range(21, 32)},
        {"min_records_per_day": 1, "min_records_per_period": 93, "expected_from": "2026-10-21"},
        date(2026, 11, 1),
        # 11 of 31 days: ceil(93 * 11 / 31) = 33 expected, 33 delivered.
        [],
    ),
    Case(
        "nothing is due before the source was expected",
        {},
        {"min_records_per_day": 1, "expected_from": "2026-11-05"},
        date(2026, 11, 1),
        [],
    ),
]


@pytest.mark.both_databases
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_short_deliveries(backend: str, session: Session, case: Case) -> None:
    _deliver(session, "gw", case.delivered)
    _deliver(session, "other", {d: 50 for d in OCTOBER})  # another source's never count
    _deliver(session, None, {d: 50 for d in OCTOBER})  # nor files from the command line
    sources = SourcesSettings(feed=[FeedSettings(name="gw", path=Path("logs"), **case.feed)])
    problems = check_deliveries(session, sources, ["2026-10"], [], case.today)
    assert [p.line for p in problems] == case.lines
    assert all(p.source == "gw" for p in problems)


def test_the_checked_periods_include_the_one_holding_yesterday() -> None:
    assert periods_to_check(["2026-10"], date(2026, 12, 8), 0) == ["2026-10", "2026-12"]
    assert periods_to_check([], date(2026, 12, 1), 0) == ["2026-11"]
    assert periods_to_check([], date(2026, 12, 2), 1) == ["2026-11"]


def _result(total: int, rejected: int, skipped: str | None = None) -> FileResult:
    r = FileResult(path=Path(f"/logs/f{total}-{rejected}.jsonl"), source_format="otel", sha256="")
    r.total, r.rejected, r.loaded, r.skipped = total, rejected, total - rejected, skipped
    return r


@pytest.mark.parametrize(
    ("limits", "files", "expected"),
    [
        ({}, [_result(10, 9)], []),
        ({"max_rejected_ratio": 0.1}, [_result(100, 10)], []),
        (
            {"max_rejected_ratio": 0.1},
            [_result(100, 5), _result(10, 8)],
            [
                "13 of 110 records rejected (11.82%), more than sources.max_rejected_ratio 10.00%; "
                "most from /logs/f10-8.jsonl (8)"
            ],
        ),
        ({"max_skipped_files": 1}, [_result(0, 0, "not a log format")], []),
        (
            {"max_skipped_files": 0},
            [_result(0, 0, "not a log format"), _result(3, 0)],
            [
                "1 file(s) skipped (not a log format, unreadable or refused), more than "
                "sources.max_skipped_files 0: f0-0.jsonl"
            ],
        ),
    ],
)
def test_input_thresholds(
    limits: dict[str, Any], files: list[FileResult], expected: list[str]
) -> None:
    lines = input_problems(SourcesSettings(**limits), files)
    assert [line.split(": see")[0] for line in lines] == expected


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"name": "gw"}, "give either path (files) or url (a database)"),
        ({"name": "gw", "path": "a", "url": "postgresql://h/db"}, "give either path"),
        ({"name": "gw", "path": "a", "format": "litellm-db"}, "give url, not path"),
        ({"name": "gw", "url": "postgresql://h/db", "format": "otel"}, "format litellm-db"),
        ({"name": "has space", "path": "a"}, "sources.feed.0.name"),
    ],
)
def test_bad_feeds_are_refused_naming_the_key(
    tmp_path: Path, feed: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="sources") as info:
        load_settings(None, sources={"feed": [feed]})
    assert message in info.value.message


def test_feed_names_are_unique() -> None:
    with pytest.raises(ConfigError, match="names must be unique: gw"):
        load_settings(None, sources={"feed": [{"name": "gw", "path": "a"}] * 2})


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITOR_REPORT__OUTPUT_DIR", str(settings.data_dir / "reports"))
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-padded-to-thirty-two-bytes")
    monkeypatch.setenv("COLUMNS", "200")

    def run(config: Path, *args: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _runs(settings: Settings) -> list[Run]:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as s:
            return list(s.scalars(select(Run).order_by(Run.started_at, Run.id)))
    finally:
        engine.dispose()


@pytest.mark.both_databases
def test_run_reads_declared_sources_and_exits_7_on_a_short_delivery_8_on_rejections(
    backend: str, cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    gateway = tmp_path / "gateway"
    gateway.mkdir()
    write_jsonl(
        gateway / "day.jsonl",
        [chat_record("e1", "Summarise rates."), chat_record("e2", "Hi"), b'{"broken": '],
    )
    config = tmp_path / "auditor.toml"
    config.write_text(
        "[[sources.feed]]\n"
        'name = "gateway"\n'
        f'path = "{gateway}"\n'
        'format = "openai-chat"\n'
        "min_records_per_day = 1\n"
        "[[sources.feed]]\n"
        'name = "archive"\n'
        f'path = "{tmp_path / "not-mounted"}"\n'
    )
    # No PATH: the declared sources are the run's input.
    code, _, err = cli(config, "run")
    assert code == 7, err
    assert "source archive:" in err and "does not exist: nothing was delivered" in err
    assert "source gateway: " in err and "delivered fewer than 1 interactions" in err
    [run] = _runs(settings)
    assert (run.outcome, run.exit_code) == ("delivery_short", 7)
    assert run.arguments["sources"] == ["gateway", "archive"]
    kinds = {(p["source"], p["kind"]) for p in run.counts["delivery_problems"]}
    assert ("archive", "missing") in kinds and ("gateway", "short_day") in kinds
    assert run.counts["records_stored"] == 2
    # What each source delivered, in the ledger.
    assert run.counts["sources"]["gateway"]["records_stored"] == 2
    assert run.counts["sources"]["gateway"]["records_rejected"] == 1
    assert [f["source"] for f in run.files] == ["gateway"]

    # No minimum, but a rejection ceiling that one bad line of three exceeds; a new file.
    write_jsonl(gateway / "next.jsonl", [chat_record("e3", "Hello"), b"{", b"["])
    config.write_text(
        "[sources]\nmax_rejected_ratio = 0.25\n"
        f'[[sources.feed]]\nname = "gateway"\npath = "{gateway}"\nformat = "openai-chat"\n'
    )
    code, _, err = cli(config, "run")
    assert code == 8, err
    assert (
        "input: 2 file(s) or table read(s): 1 new, 1 already ingested, 0 skipped (of them 0 "
        "unreadable); records: 3 read = 1 stored + 0 duplicate + 2 rejected" in err
    )
    assert "2 of 3 records rejected" in err and "sources.max_rejected_ratio 25.00%" in err
    second = _runs(settings)[1]
    assert (second.outcome, second.exit_code) == ("input_rejected", 8)
    assert second.counts["input_problems"] and json.dumps(second.counts)


def test_run_without_paths_or_sources_is_a_usage_error(
    cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "auditor.toml"
    config.write_text("")
    code, _, err = cli(config, "run")
    assert code == 2 and "[[sources.feed]]" in err


def test_the_readme_sources_example_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```toml\n")[1:]]
    [example] = [b for b in blocks if b.startswith("[sources]")]
    config = tmp_path / "auditor.toml"
    config.write_text(example)
    sources = load_settings(config).sources
    assert [f.name for f in sources.feed] == ["gateway-files", "litellm"]
    assert sources.feed[1].format == "litellm-db" and sources.max_rejected_ratio == 0.01
