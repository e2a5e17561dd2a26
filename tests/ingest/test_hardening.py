"""The adversarial review's ingest cases (5, 6, 9, 10, 14): each test fails on the old code.

Case 5: timestamps outside the accepted window; 6: CSV that cannot hide a loss; 9: rejections
stream to the database; 10: conflicting duplicates; 14: special and unreadable files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import IngestRejection, Interaction
from auditor.demo.writers import (
    chatgpt_compliance,
    claude_code,
    generic_csv,
    langfuse,
    litellm,
    otel,
)
from auditor.ingest import langfuse as langfuse_reader
from auditor.ingest import stage
from auditor.ingest.base import Reader
from auditor.ingest.registry import available
from auditor.ingest.stage import IngestLimits, ingest_paths
from auditor.sample.selection import draw_sample, period_bounds, population_keys
from tests.conftest import DATA, chat_record, write_jsonl

MAX = 16 * 1024 * 1024
# The gallery of broken logs: CSVs under generic_csv/ (other readers must not claim them).
BROKEN_FILES = [
    *sorted((DATA / "logs" / "generic_csv" / "broken").iterdir()),
    *sorted((DATA / "logs" / "broken_samples").glob("*.jsonl")),
]
EXPECTED = json.loads((DATA / "logs" / "broken_samples" / "expected.json").read_text())
HEADER = ["event_id", "occurred_at", "user_id", "prompt_text", "input_tokens"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- case 5: time window -----------------------------------------------------------------------


def test_case_05_far_future_date_is_rejected(session: Session, tmp_path: Path) -> None:
    recs = [chat_record("ok", "x"), chat_record("far", "y", when="9999-12-31T23:59:59Z")]
    [res] = ingest_paths(
        session, [write_jsonl(tmp_path / "f.jsonl", recs)], "openai-chat", max_line_bytes=MAX
    )
    assert (res.loaded, res.rejected) == (1, 1)
    [(line_no, why)] = res.rejections
    assert line_no == 2 and "in the future" in why and "9999" not in why
    stored = session.execute(select(IngestRejection.line_no, IngestRejection.reason)).all()
    assert [tuple(r) for r in stored] == [(2, why)]
    assert res.periods == {"2026-10"}


@pytest.mark.parametrize(
    ("stamp", "fragment"),
    [
        (253402300800, "before 2015-01-01"),  # 10000-01-01 in seconds; guessed as ms: 1978
        (1e20, "in the future"),  # guessed as ns: year 5138
        (0, "before 2015-01-01"),
        ("2014-12-31T23:59:59Z", "before 2015-01-01"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
    ],
)
def test_case_05_epoch_guesses_outside_the_window_are_rejected(
    session: Session, tmp_path: Path, stamp: Any, fragment: str
) -> None:
    recs = [chat_record("e1", "x", when=stamp)]
    [res] = ingest_paths(
        session, [write_jsonl(tmp_path / "e.jsonl", recs)], "openai-chat", max_line_bytes=MAX
    )
    assert res.rejected == 1 and fragment in res.rejections[0][1]
    assert session.scalar(select(func.count(Interaction.id))) == 0


def test_case_05_window_comes_from_settings(session: Session, tmp_path: Path) -> None:
    recs = [chat_record("w1", "x", when="2016-03-01T00:00:00Z")]
    path = write_jsonl(tmp_path / "w.jsonl", recs)
    limits = IngestLimits(earliest=date(2020, 1, 1))
    [res] = ingest_paths(session, [path], "openai-chat", max_line_bytes=MAX, limits=limits)
    assert res.rejected == 1 and "before 2020-01-01" in res.rejections[0][1]


WRITERS = [generic_csv, litellm, langfuse, otel, claude_code, chatgpt_compliance]


def _extremes(now: datetime) -> dict[str, str]:
    """Event id -> timestamp: the window's edges from inside and outside, and far beyond."""
    return {
        "in-first": "2015-01-01T00:00:00Z",
        "in-now": _iso(now - timedelta(hours=1)),
        "in-last": _iso(now + timedelta(hours=23)),
        "out-before": "2014-12-31T23:59:59Z",
        "out-epoch0": "1970-01-01T00:00:01Z",
        "out-after": _iso(now + timedelta(days=2)),
        "out-far": "9999-12-31T23:59:59Z",
    }


def _write(module: Any, records: list[dict[str, Any]], path: Path) -> Path | None:
    try:
        module.write(records, path)
    except (ValueError, OverflowError, OSError):
        return None  # this format cannot even express the moment
    return path


def test_case_05_extremes_through_every_reader_cannot_break_sampling(
    session: Session, tmp_path: Path
) -> None:
    assert {m.FORMAT for m in WRITERS} | {"openai-chat"} == set(available())
    now = datetime.now(UTC)
    extremes = _extremes(now)
    stored_ids: set[str] = set()
    for module in [None, *WRITERS]:
        fmt = "openai-chat" if module is None else module.FORMAT
        for event_id, when in extremes.items():
            # One file per record: a writer failing on one moment must not hide the others.
            rec = chat_record(f"{fmt}-{event_id}", f"prompt {event_id}", when=when)
            rec["response"]["created"] = (
                int(datetime.fromisoformat(when).timestamp())
                if (not when.startswith("9999"))
                else 253402300799
            )
            name = f"{fmt}-{event_id}"
            if module is None:
                path: Path | None = write_jsonl(tmp_path / f"{name}.jsonl", [rec])
            else:
                path = _write(module, [rec], tmp_path / f"{name}{module.SUFFIX}")
            if path is None:
                continue
            [res] = ingest_paths(session, [path], fmt, max_line_bytes=MAX)
            assert res.reconciles, res.reconciliation
            if event_id.startswith("out-"):
                assert res.loaded == 0, (fmt, event_id, res.rejections)
                assert res.rejected >= 1, (fmt, event_id)
            else:
                assert res.loaded >= 1, (fmt, event_id, res.rejections)
                stored_ids.add(name)
    assert {"openai-chat-in-first", "csv-in-last"} <= stored_ids
    first, last = session.execute(
        select(func.min(Interaction.occurred_at), func.max(Interaction.occurred_at))
    ).one()
    assert first >= datetime(2015, 1, 1) and last <= now.replace(tzinfo=None) + timedelta(days=1)
    periods = sorted(
        {at.strftime("%Y-%m") for at in session.scalars(select(Interaction.occurred_at))}
    )
    for period in periods:
        period_bounds(period)
        assert population_keys(session, period)
        sample, _ = draw_sample(session, period, size=2, seed=1)
        assert sample.id


# -- case 6: CSV resynchronisation -------------------------------------------------------------


def _rows(n: int) -> list[list[str]]:
    out = []
    for i in range(n):
        prompt = f"prompt {i}, with a comma" if i % 3 else f"two\nlines {i}"
        out.append([f"r-{i}", "2026-10-05T10:00:00Z", f"u{i}", prompt, str(i)])
    return out


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(HEADER)
    out.writerows(rows)
    return buf.getvalue().encode()


def test_case_06_stray_quote_does_not_swallow_the_rest_of_the_file(
    session: Session, tmp_path: Path
) -> None:
    rows = [[f"s-{i}", "2026-10-05T10:00:00Z", f"u{i}", f"prompt {i}", "1"] for i in range(1000)]
    rows[10][3] = "4111 1111 1111 1111"
    data = _csv_bytes(rows).replace(b"s-10,2026-10-05T10:00:00Z,u10,", b's-10,"2026', 1)
    path = tmp_path / "stray.csv"
    path.write_bytes(data)
    [res] = ingest_paths(session, [path], "csv", max_line_bytes=MAX)
    assert (res.total, res.loaded, res.rejected) == (1000, 999, 1)
    [(line_no, why)] = res.rejections
    assert line_no == 12 and "4111" not in why
    assert res.reconciliation.startswith("stray.csv: read 1000 = stored 999 +")


def test_case_06_bare_cr_in_the_header_does_not_end_the_ingest(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "cr.csv"
    path.write_bytes(b"event_id,occurred_at\r,user_id\nc-1,2026-10-05T10:00:00Z,u1\n")
    good = write_jsonl(tmp_path / "good.jsonl", [chat_record("g-1", "x")])
    results = ingest_paths(session, [path, good], "auto", max_line_bytes=MAX)
    assert [r.loaded for r in results] == [0, 1]
    forced = ingest_paths(session, [path], "csv", max_line_bytes=MAX)[0]
    assert forced.reconciles and forced.rejections[0][0] == 1


def test_case_06_a_field_longer_than_max_field_bytes_is_rejected_and_reading_goes_on(
    session: Session, tmp_path: Path
) -> None:
    rows = _rows(6)
    rows[1][3] = "x" * 5000
    path = tmp_path / "long.csv"
    path.write_bytes(_csv_bytes(rows))
    limits = IngestLimits(max_field_bytes=1024)
    [res] = ingest_paths(session, [path], "csv", max_line_bytes=MAX, limits=limits)
    assert (res.total, res.loaded, res.rejected) == (6, 5, 1)
    assert "longer than 1024 bytes" in res.rejections[0][1]


def test_case_06_litellm_csv_resynchronises_after_a_stray_quote(
    session: Session, tmp_path: Path
) -> None:
    recs = [chat_record(f"l-{i}", f"prompt {i}") for i in range(20)]
    path = tmp_path / "spend.csv"
    litellm.write(recs, path)
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b",", b',"', 1)  # a quote opens a field and never closes
    path.write_bytes(b"\n".join(lines))
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=MAX)
    assert res.total == 20 and res.rejected == 1 and res.loaded == 19
    assert res.rejections[0][0] == 6


def _langfuse_csv(recs: list[dict[str, Any]], path: Path) -> Path:
    """Langfuse's CSV form of an export: the JSON Lines rows, objects and arrays as JSON text."""
    jsonl = path.with_suffix(".jsonl")
    langfuse.write(recs, jsonl)
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    jsonl.unlink()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(columns)
        for row in rows:
            values = [row.get(c) for c in columns]
            out.writerow(
                "" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values
            )
    return path


def test_case_06_langfuse_csv_resynchronises_after_a_stray_quote(
    session: Session, tmp_path: Path
) -> None:
    recs = [chat_record(f"lf-{i}", f"prompt {i}") for i in range(20)]
    path = _langfuse_csv(recs, tmp_path / "observations.csv")
    clean = list(langfuse_reader.read_rows(path, max_line_bytes=MAX))
    assert [type(r).__name__ for r in clean] == ["RawRecord"] * 20

    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 22  # header, 20 one-line rows, and the end
    lines[5] = lines[5].replace(b",", b',"', 1)  # a quote opens a field and never closes
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\n".join(lines))
    [res] = ingest_paths(session, [broken], "langfuse", max_line_bytes=MAX)
    # It used to stop at the broken record: 4 stored, 1 rejected, 15 never read.
    assert (res.total, res.loaded, res.rejected) == (20, 19, 1), res.rejections
    assert res.rejections[0][0] == 6 and res.reconciles


CORRUPTIONS = [b'"', b"\r", b"\x00", b"\xff"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    n=st.integers(min_value=1, max_value=12),
    corruption=st.sampled_from(CORRUPTIONS),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_case_06_any_single_corruption_keeps_every_row_counted(
    tmp_path_factory: pytest.TempPathFactory, n: int, corruption: bytes, where: float
) -> None:
    """Whatever one stray byte does to a CSV, stored + rejected is the number of rows a
    strict parser finds in the untouched file: no row is lost or merged away."""
    from auditor.ingest.generic_csv import GenericCsvReader

    data = _csv_bytes(_rows(n))
    expected = len(list(csv.reader(io.StringIO(data.decode(), newline=""), strict=True))) - 1
    start = data.index(b"\n") + 1  # after the header: a broken header rejects every row
    pos = start + int(where * (len(data) - start))
    broken = data[:pos] + corruption + data[pos:]
    path = tmp_path_factory.mktemp("p") / "c.csv"
    path.write_bytes(broken)
    reader = GenericCsvReader()
    stored = rejected = 0
    for item in reader.records(path, max_line_bytes=MAX):
        if isinstance(item, stage.Rejected):
            rejected += 1
            continue
        try:
            reader.normalize(item)
        except ValueError:
            rejected += 1
        else:
            stored += 1
    assert stored + rejected == expected, (broken, stored, rejected)


# -- case 9: rejections are streamed -----------------------------------------------------------


def test_case_09_rejections_are_written_in_batches(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stage, "REJECTION_BATCH", 100)
    monkeypatch.setattr(stage, "KEPT_PER_FILE", 50)
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(b"{\n" * 1050))
    [res] = ingest_paths(session, [path], "openai-chat", max_line_bytes=MAX)
    assert (res.total, res.rejected) == (1050, 1050) and res.reconciles
    assert res.rejection_flushes == 11  # ten full batches while reading, then the rest
    assert len(res.rejections) == 50  # kept for display; every one is in the database
    assert session.scalar(select(func.count(IngestRejection.id))) == 1050


# -- case 10: conflicting duplicates -----------------------------------------------------------


def test_case_10_conflicting_duplicate_is_rejected_naming_both_lines(
    session: Session, tmp_path: Path
) -> None:
    recs = [
        chat_record("same", "Quarterly summary"),
        chat_record("same", "Quarterly summary"),  # identical re-delivery: a duplicate
        chat_record("same", "card 4111 1111 1111 1111"),
        chat_record("same", "Quarterly summary", user="u99999"),
    ]
    [res] = ingest_paths(
        session, [write_jsonl(tmp_path / "d.jsonl", recs)], "openai-chat", max_line_bytes=MAX
    )
    assert (res.loaded, res.duplicate, res.rejected, res.conflicts) == (1, 1, 2, 2)
    assert [n for n, _ in res.rejections] == [3, 4]
    for _, why in res.rejections:
        assert why.startswith("conflict: same event id as line 1") and "4111" not in why
    assert "2 conflicting duplicate(s)" in res.reconciliation
    assert session.scalars(select(Interaction.prompt_text)).one() == "Quarterly summary"


def test_case_10_conflict_with_an_earlier_file_names_that_file(
    session: Session, tmp_path: Path
) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [chat_record("x", "one")])
    second = write_jsonl(tmp_path / "b.jsonl", [chat_record("y", "y"), chat_record("x", "two")])
    ingest_paths(session, [first], "openai-chat", max_line_bytes=MAX)
    [res] = ingest_paths(session, [second], "openai-chat", max_line_bytes=MAX)
    assert res.rejections == [
        (
            2,
            "conflict: same event id as line 1 of a.jsonl, different content; the record at "
            "line 1 of a.jsonl is kept, this one is not stored",
        )
    ]


# -- case 14: special and unreadable files -----------------------------------------------------


def test_case_14_fifo_device_socket_and_links_are_skipped_with_a_message(
    session: Session, tmp_path: Path
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [chat_record("a1", "x")])
    os.mkfifo(folder / "fifo.jsonl")
    (folder / "null.jsonl").symlink_to("/dev/null")
    (folder / "dangling.jsonl").symlink_to(folder / "absent")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "s.sock"))
    try:
        results = ingest_paths(session, [folder], "openai-chat", max_line_bytes=MAX)
    finally:
        sock.close()
    by_name = {r.path.name: r for r in results}
    assert by_name["a.jsonl"].loaded == 1
    assert "FIFO" in (by_name["fifo.jsonl"].skipped or "")
    assert "character device (through a symbolic link)" in (by_name["null.jsonl"].skipped or "")
    assert "broken link" in (by_name["dangling.jsonl"].skipped or "")
    assert "socket" in (by_name["s.sock"].skipped or "")
    assert all(by_name[n].unreadable for n in ("fifo.jsonl", "null.jsonl", "s.sock"))
    # A FIFO named on the command line is reported too, not "no such file".
    [res] = ingest_paths(session, [folder / "fifo.jsonl"], "auto", max_line_bytes=MAX)
    assert res.unreadable and "FIFO" in (res.skipped or "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_case_14_unreadable_file_is_reported_and_the_rest_still_loads(
    session: Session, tmp_path: Path
) -> None:
    locked = write_jsonl(tmp_path / "a-locked.jsonl", [chat_record("l1", "x")])
    locked.chmod(0)
    good = write_jsonl(tmp_path / "b-good.jsonl", [chat_record("g1", "x")])
    results = ingest_paths(session, [locked, good], "auto", max_line_bytes=MAX)
    assert results[0].unreadable and "Permission denied" in (results[0].skipped or "")
    assert results[1].loaded == 1


def test_case_14_a_read_error_mid_file_is_reported_and_the_rest_still_loads(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write_jsonl(tmp_path / "a.jsonl", [chat_record("e1", "x")])
    good = write_jsonl(tmp_path / "b.jsonl", [chat_record("g1", "x")])
    reader_cls = available()["openai-chat"]
    real = reader_cls.records

    def failing(self: Reader, path: Path, *, max_line_bytes: int) -> Any:
        if path == bad:
            raise OSError(5, "Input/output error")
        return real(self, path, max_line_bytes=max_line_bytes)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_cls, "records", failing)
    results = ingest_paths(session, [bad, good], "openai-chat", max_line_bytes=MAX)
    assert results[0].unreadable and "Input/output error" in (results[0].skipped or "")
    assert results[1].loaded == 1
    assert session.scalars(select(Interaction.event_id)).all() == ["g1"]


def test_broken_samples_gallery_reconciles(session: Session) -> None:
    assert {p.name for p in BROKEN_FILES} == set(EXPECTED)
    for path in BROKEN_FILES:
        [res] = ingest_paths(session, [path], "auto", max_line_bytes=MAX)
        assert res.reconciles and res.skipped is None, path.name
        expected = EXPECTED[path.name]
        assert [res.total, res.loaded, res.rejected] == expected, path.name


def test_case_14_permission_denied_is_reported_even_when_running_as_root(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = write_jsonl(tmp_path / "a-locked.jsonl", [chat_record("l1", "x")])
    good = write_jsonl(tmp_path / "b-good.jsonl", [chat_record("g1", "x")])
    real_open = os.open

    def deny(path: Any, flags: int, *args: Any) -> int:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(stage.os, "open", deny)
    results = ingest_paths(session, [locked, good], "auto", max_line_bytes=MAX)
    assert results[0].unreadable and "Permission denied" in (results[0].skipped or "")
    assert results[0].path.name in str(results[0].path)
    assert results[1].loaded == 1
