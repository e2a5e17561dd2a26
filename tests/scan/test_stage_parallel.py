"""The scan stage through worker processes: the same records and detections as one process and
as the scanner text by text; identical texts scanned once; rescans say why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from auditor.config import ScanSettings
from auditor.db.models import Detection, Interaction, ScanRecord
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.scan.engine import Scanner, build_scanner
from auditor.scan.stage import ScanStats, revision_inputs, scan_sample
from tests.scan.helpers import seed_sample

KEY = b"stage-parallel-test-key"
SAMPLE_ID = "2026-10-p1"
LONG = "card 4111 1111 1111 1111 " + "word " * 300 + "and 5555 5555 5555 4444 at the end"
PROMPTS = [
    "Charge card 4111 1111 1111 1111 for John Smith please",
    "Email jane.doe@example.com about the loan for Maria Garcia from Madrid.",
    "Summarise the quarterly results.",
    "Pay Halvorsen Maritime from account 4402 118734, routing number 021000021.",
    LONG,
    "Иван Петров просил перевести деньги на счёт в понедельник утром",
    "SSN 536-22-8726, phone +1 (212) 555-0142, IBAN DE89370400440532013000",
    "Charge card 4111 1111 1111 1111 for John Smith please",  # the same text again
]


def _rows() -> list[tuple[str, str | None, str | None, str]]:
    """(event id, prompt, output, content status): every prompt thrice, some without text."""
    rows: list[tuple[str, str | None, str | None, str]] = []
    for n in range(3):
        for i, prompt in enumerate(PROMPTS):
            output = None if i % 3 == 0 else f"Done for case {i}. Reply to ops{i}@example.com."
            status = "redacted" if (n, i) == (1, 2) else "present"
            rows.append((f"e{n}-{i}", None if status == "redacted" else prompt, output, status))
    return rows


def _seed(session: Session) -> None:
    seed_sample(session, _rows(), SAMPLE_ID)


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reg") / "clients.csv"
    path.write_text(
        "client_id,name,aliases,accounts\nC001,Halvorsen Maritime,,4402-118734\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def settings(register: Path) -> ScanSettings:
    return ScanSettings(client_register=register, max_text_chars=1000)


@pytest.fixture(scope="module")
def scanner(settings: ScanSettings) -> Scanner:
    return build_scanner(settings, KEY)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        _seed(s)
    yield engine
    engine.dispose()


def _stored(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every record and detection, keyed by event id, without row ids or times."""
    with session_scope(engine) as s:
        records = s.execute(
            select(
                Interaction.event_id,
                ScanRecord.field,
                ScanRecord.scanner_revision,
                ScanRecord.status,
                ScanRecord.reason,
                ScanRecord.reason_code,
                ScanRecord.chars_scanned,
            ).join(Interaction, Interaction.id == ScanRecord.interaction_id)
        ).all()
        detections = s.execute(
            select(
                Interaction.event_id,
                Detection.field,
                Detection.entity_type,
                Detection.start,
                Detection.end,
                Detection.score,
                Detection.recognizer,
                Detection.value_hash,
                Detection.masked_excerpt,
                Detection.scanner_revision,
                Detection.subject_id,
            ).join(Interaction, Interaction.id == Detection.interaction_id)
        ).all()
    return sorted(tuple(r) for r in records), sorted(tuple(d) for d in detections)


def _text_by_text(scanner: Scanner) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """What the single-process path stores: each field scanned alone by the scanner."""
    records, detections = [], []
    for event_id, prompt, output, status in _rows():
        for field, text in (("prompt", prompt), ("output", output)):
            if text is None:
                code = "redacted" if status == "redacted" else "not_stored"
                reason = (
                    f"the source redacted the {field} text"
                    if code == "redacted"
                    else f"the interaction has no {field} text"
                )
                records.append((event_id, field, scanner.revision, code, reason, code, 0))
                continue
            result = scanner.scan_results([text])[0]
            records.append(
                (
                    event_id,
                    field,
                    scanner.revision,
                    result.status,
                    result.reason,
                    result.reason_code,
                    result.chars_scanned,
                )
            )
            detections.extend(
                (
                    event_id,
                    field,
                    h.entity_type,
                    h.start,
                    h.end,
                    h.score,
                    h.recognizer,
                    h.value_hash,
                    h.masked_excerpt,
                    scanner.revision,
                    h.subject_id,
                )
                for h in result.hits
            )
    return sorted(records), sorted(detections)


def _summary(stored: tuple[list[tuple[object, ...]], list[tuple[object, ...]]]) -> object:
    # Without hashes and excerpts, so a failure message never prints evidence.
    records, detections = stored
    return [r[:4] + r[5:] for r in records], [d[:6] for d in detections]


def test_one_and_two_workers_store_what_the_scanner_finds_text_by_text(
    tmp_path: Path, scanner: Scanner
) -> None:
    stored = {}
    stats: dict[int, ScanStats] = {}
    for workers in (1, 2):
        engine = make_engine(f"sqlite:///{tmp_path / f'w{workers}.db'}")
        upgrade(engine)
        with session_scope(engine) as s:
            _seed(s)
        with session_scope(engine) as s:
            stats[workers] = scan_sample(
                s, scanner, SAMPLE_ID, workers=workers, min_texts_per_worker=1
            )
        stored[workers] = _stored(engine)
        engine.dispose()
    want = _text_by_text(scanner)
    assert _summary(stored[1]) == _summary(want)
    assert stored[1] == want
    assert stored[2] == want
    assert (stats[1].workers, stats[2].workers) == (1, 2)
    assert {"over_limit", "unsupported_language"} <= set(stats[1].partial_reasons)
    assert {d[2] for d in want[1]} >= {"CREDIT_CARD", "PERSON", "CLIENT_NAME", "US_SSN"}
    for st in stats.values():
        st.workers = 0
    assert stats[1] == stats[2]


def test_identical_texts_are_scanned_once_per_run(db: Engine, scanner: Scanner) -> None:
    texts = [t for _, p, o, _ in _rows() for t in (p, o) if t is not None]
    with session_scope(db) as s:
        stats = scan_sample(s, scanner, SAMPLE_ID, workers=1)
    assert stats.fields_scanned == len(texts)
    assert stats.fields_reused == len(texts) - len(set(texts))
    assert stats.fields_reused > len(texts) // 2


def test_progress_reaches_the_total(db: Engine, scanner: Scanner) -> None:
    calls: list[tuple[int, int]] = []
    with session_scope(db) as s:
        stats = scan_sample(
            s, scanner, SAMPLE_ID, workers=1, progress=lambda d, t: calls.append((d, t))
        )
    total = stats.fields_scanned + stats.fields_not_stored
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    with session_scope(db) as s:
        again = scan_sample(s, scanner, SAMPLE_ID, progress=lambda d, t: calls.append((d, t)))
    assert again.fields_skipped_already_done == total and again.workers == 0


def test_a_small_scan_stays_in_this_process(db: Engine, scanner: Scanner) -> None:
    with session_scope(db) as s:
        stats = scan_sample(s, scanner, SAMPLE_ID, workers=4)
    assert stats.workers == 1  # 48 fields: fewer than MIN_TEXTS_PER_WORKER per worker


def _clients(path: Path, extra: str) -> Path:
    path.write_text(
        "client_id,name,aliases,accounts\nC001,Halvorsen Maritime,,4402-118734\n" + extra,
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        ({"allow_list": ["Rates Desk"]}, ["allow_list"]),
        ({"entity_thresholds": {"PERSON": 0.7}}, ["entity_thresholds"]),
        (
            {"client_register": "extra client"},
            ["recognizer ClientAccountRecognizer", "recognizer ClientNameRecognizer"],
        ),
    ],
)
def test_a_rescan_names_the_inputs_that_changed(
    db: Engine,
    scanner: Scanner,
    settings: ScanSettings,
    tmp_path: Path,
    change: dict[str, object],
    changed: list[str],
) -> None:
    if change.get("client_register") == "extra client":
        change = {"client_register": _clients(tmp_path / "c.csv", "C002,Kestrel Shipping,,\n")}
    with session_scope(db) as s:
        first = scan_sample(s, scanner, SAMPLE_ID, workers=1)
    assert first.previous_revision is None and first.rescan_reason is None
    newer = build_scanner(settings.model_copy(update=change), KEY)
    with session_scope(db) as s:
        stats = scan_sample(s, newer, SAMPLE_ID, workers=1)
        assert revision_inputs(s, newer.revision) == newer.revision_parts
    assert stats.previous_revision == scanner.revision
    assert stats.revision_changes == changed
    assert stats.rescan_reason is not None and changed[0] in stats.rescan_reason
    assert stats.fields_scanned == first.fields_scanned
