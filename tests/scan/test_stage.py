"""The scan stage on a real migrated database: records, detections, idempotency."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from auditor.config import ScanSettings
from auditor.db.models import Detection, Interaction, ScanRecord
from auditor.db.session import session_scope
from auditor.errors import NotFoundError, ScanError
from auditor.scan.engine import Scanner, ScanResult, build_analyzer, build_scanner
from auditor.scan.stage import ScanStats, scan_sample
from tests.scan.helpers import seed_sample

pytestmark = pytest.mark.both_databases

SAMPLE_ID = "2026-10-s1"
CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.com"

# (event id, prompt, output, content status)
INTERACTIONS = [
    ("e1", f"Charge card {CARD} for John Smith please", "Done, charged.", "present"),
    ("e2", None, None, "not_stored"),
    ("e3", None, f"Reply to {EMAIL} with the form", "redacted"),
    ("e4", "Summarise the quarterly results.", "", "present"),
]


def _seed(session: Session, rows: Sequence[tuple[str, str | None, str | None, str]]) -> list[int]:
    return seed_sample(session, rows, SAMPLE_ID)


def _records(session: Session) -> dict[tuple[int, str], tuple[str, str | None, int]]:
    return {
        (r.interaction_id, r.field): (r.status, r.reason, r.chars_scanned)
        for r in session.scalars(select(ScanRecord))
    }


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("batch_size", [1, 64])
def test_scan_sample_writes_records_and_detections(
    engine: Engine, scanner: Scanner, batch_size: int
) -> None:
    with session_scope(engine) as s:
        e1, e2, e3, e4 = _seed(s, INTERACTIONS)
    with session_scope(engine) as s:
        stats = scan_sample(s, scanner, SAMPLE_ID, batch_size=batch_size)
    with session_scope(engine) as s:
        detections = list(s.scalars(select(Detection).order_by(Detection.id)))
        records = _records(s)
        revisions = set(s.scalars(select(ScanRecord.scanner_revision)))

    assert stats == ScanStats(
        items=4,
        fields_scanned=5,
        fields_skipped_already_done=0,
        fields_not_stored=3,
        fields_partial=0,
        fields_failed=0,
        detections=len(detections),
        workers=1,  # eight fields: too few to start worker processes
    )
    assert {k: v[0] for k, v in records.items()} == {
        (e1, "prompt"): "scanned",
        (e1, "output"): "scanned",
        (e2, "prompt"): "not_stored",
        (e2, "output"): "not_stored",
        (e3, "prompt"): "redacted",
        (e3, "output"): "scanned",
        (e4, "prompt"): "scanned",
        (e4, "output"): "scanned",
    }
    assert records[(e1, "prompt")][2] == len(INTERACTIONS[0][1] or "")
    assert all(records[(e2, f)][1] for f in ("prompt", "output"))  # a reason is given
    assert revisions == {scanner.revision}

    found = {(d.interaction_id, d.field, d.entity_type) for d in detections}
    assert {(e1, "prompt", "CREDIT_CARD"), (e1, "prompt", "PERSON")} <= found
    assert (e3, "output", "EMAIL_ADDRESS") in found
    assert not {(i, f) for i, f, _ in found} & {(e1, "output"), (e4, "prompt"), (e4, "output")}
    card = next(d for d in detections if d.entity_type == "CREDIT_CARD")
    assert card.value_hash == scanner.value_hash("CREDIT_CARD", CARD)
    assert card.masked_excerpt == "Charge card [CREDIT_CARD] for [PERSON] please"
    for d in detections:
        assert d.scanner_revision == scanner.revision
        assert CARD not in d.masked_excerpt and EMAIL not in d.masked_excerpt
        assert "John Smith" not in d.masked_excerpt


def test_attribute_text_is_scanned_as_its_own_field(engine: Engine, scanner: Scanner) -> None:
    with session_scope(engine) as s:
        e1, e2, e3, e4 = _seed(s, INTERACTIONS)
        for iid, attributes in (
            (e1, {"department": f"card {CARD}", "api_requests": 2}),
            (e2, {"os_type": "linux", "install_id": "92324820-0b50-514e-bbb0-e96da9525ab9"}),
            (e3, {"api_requests": 1}),  # no text: no field to scan
        ):
            s.execute(
                update(Interaction).where(Interaction.id == iid).values(attributes=attributes)
            )
    with session_scope(engine) as s:
        stats = scan_sample(s, scanner, SAMPLE_ID)
    with session_scope(engine) as s:
        records = _records(s)
        found = [
            (d.interaction_id, d.entity_type, d.masked_excerpt)
            for d in s.scalars(select(Detection).where(Detection.field == "attributes"))
        ]
    assert stats.fields_scanned == 7  # the five of the table above, and two attributes
    assert {k for k in records if k[1] == "attributes"} == {(e1, "attributes"), (e2, "attributes")}
    # The card is found where it was kept; a key's name or an OS is no place or person.
    assert found == [(e1, "CREDIT_CARD", "department: card [CREDIT_CARD]")]
    with session_scope(engine) as s:
        assert scan_sample(s, scanner, SAMPLE_ID) == ScanStats(
            items=4, fields_skipped_already_done=10
        )


def test_second_run_adds_nothing(engine: Engine, scanner: Scanner) -> None:
    with session_scope(engine) as s:
        _seed(s, INTERACTIONS)
    with session_scope(engine) as s:
        first = scan_sample(s, scanner, SAMPLE_ID)
    with session_scope(engine) as s:
        counts = (_count(s, ScanRecord), _count(s, Detection))
    with session_scope(engine) as s:
        second = scan_sample(s, scanner, SAMPLE_ID)
    with session_scope(engine) as s:
        assert (_count(s, ScanRecord), _count(s, Detection)) == counts
    assert first.detections > 0
    assert second == ScanStats(items=4, fields_skipped_already_done=8)


def test_only_the_requested_fields_are_scanned(engine: Engine, scanner: Scanner) -> None:
    with session_scope(engine) as s:
        _seed(s, INTERACTIONS)
        stats = scan_sample(s, scanner, SAMPLE_ID, fields=["prompt"])
        assert set(s.scalars(select(ScanRecord.field))) == {"prompt"}
        assert stats.fields_scanned + stats.fields_not_stored == 4
        # The output fields are still to do.
        later = scan_sample(s, scanner, SAMPLE_ID)
        assert later.fields_skipped_already_done == 4
        assert later.fields_scanned + later.fields_not_stored == 4


def test_another_scanner_revision_scans_again(
    engine: Engine, scanner: Scanner, hash_key: bytes
) -> None:
    cards_only = build_scanner(ScanSettings(entities=["CREDIT_CARD"]), hash_key)
    assert cards_only.revision != scanner.revision
    with session_scope(engine) as s:
        _seed(s, INTERACTIONS)
        scan_sample(s, scanner, SAMPLE_ID)
        stats = scan_sample(s, cards_only, SAMPLE_ID)
        assert stats.fields_skipped_already_done == 0
        assert stats.detections == 1
        assert _count(s, ScanRecord) == 16


def test_long_text_is_recorded_as_partial(engine: Engine, hash_key: bytes) -> None:
    short = build_scanner(ScanSettings(max_text_chars=1000), hash_key)
    prompt = f"card {CARD} " + "word " * 300 + "card 5555 5555 5555 4444 end"
    with session_scope(engine) as s:
        (iid,) = _seed(s, [("long", prompt, "ok", "present")])
        stats = scan_sample(s, short, SAMPLE_ID)
        status, reason, chars = _records(s)[(iid, "prompt")]
        detections = list(s.scalars(select(Detection.entity_type)))
    assert (status, chars) == ("partial", 1000)
    assert reason == f"text has {len(prompt)} characters; the first 1000 were scanned"
    assert detections == ["CREDIT_CARD"]
    assert (stats.fields_scanned, stats.fields_partial) == (2, 1)


class _FailsOnMarker(Scanner):
    """A real scanner whose analysis fails for one text, as a presidio bug would."""

    marker = "FAIL-HERE"

    def scan_results(self, texts: Sequence[str], batch_size: int = 64) -> list[ScanResult]:
        if any(self.marker in t for t in texts):
            raise RuntimeError("analysis failed")
        return super().scan_results(texts, batch_size)


def test_a_failing_text_is_recorded_and_retried(
    engine: Engine, scanner: Scanner, hash_key: bytes
) -> None:
    settings = ScanSettings()
    failing = _FailsOnMarker(build_analyzer(settings), hash_key, settings)
    assert failing.revision == scanner.revision
    rows = [*INTERACTIONS, ("e5", f"{_FailsOnMarker.marker} card {CARD}", "fine", "present")]
    with session_scope(engine) as s:
        ids = _seed(s, rows)
    with session_scope(engine) as s:
        first = scan_sample(s, failing, SAMPLE_ID)
        assert _records(s)[(ids[4], "prompt")] == (
            "error",
            "the scanner raised RuntimeError",
            0,
        )
    # The other texts of the batch were scanned one by one.
    assert (first.fields_failed, first.fields_scanned, first.fields_not_stored) == (1, 6, 3)
    with session_scope(engine) as s:
        second = scan_sample(s, scanner, SAMPLE_ID)
        assert _records(s)[(ids[4], "prompt")][0] == "scanned"
        assert _count(s, ScanRecord) == 10
    assert (second.fields_failed, second.fields_scanned) == (0, 1)
    assert second.fields_skipped_already_done == 9


def test_unknown_sample_is_an_error(engine: Engine, scanner: Scanner) -> None:
    with session_scope(engine) as s, pytest.raises(NotFoundError, match="no-such-sample"):
        scan_sample(s, scanner, "no-such-sample")


def test_unknown_field_is_an_error(engine: Engine, scanner: Scanner) -> None:
    with session_scope(engine) as s:
        _seed(s, INTERACTIONS)
        with pytest.raises(ScanError, match="'history'"):
            scan_sample(s, scanner, SAMPLE_ID, fields=["prompt", "history"])


def _codes(session: Session) -> dict[tuple[int, str], tuple[str, str | None]]:
    return {
        (r.interaction_id, r.field): (r.status, r.reason_code)
        for r in session.scalars(select(ScanRecord))
    }


def test_every_field_not_fully_scanned_has_a_reason_code(engine: Engine, hash_key: bytes) -> None:
    settings = ScanSettings(max_text_chars=1000)
    failing = _FailsOnMarker(build_analyzer(settings), hash_key, settings)
    rows = [
        ("long", "word " * 300, "ok", "present"),
        (
            "cyrillic",
            "Иван Петров просил перевести деньги на счёт в понедельник утром",
            None,
            "present",
        ),
        ("fails", f"{_FailsOnMarker.marker} card {CARD}", None, "redacted"),
        ("none", None, None, "not_stored"),
    ]
    with session_scope(engine) as s:
        long_id, cyr_id, fail_id, none_id = _seed(s, rows)
        stats = scan_sample(s, failing, SAMPLE_ID)
        codes = _codes(s)
    assert codes[(long_id, "prompt")] == ("partial", "over_limit")
    assert codes[(long_id, "output")] == ("scanned", None)
    assert codes[(cyr_id, "prompt")] == ("partial", "unsupported_language")
    assert codes[(cyr_id, "output")] == ("not_stored", "not_stored")
    assert codes[(fail_id, "prompt")] == ("error", "error")
    assert codes[(fail_id, "output")] == ("redacted", "redacted")
    assert codes[(none_id, "prompt")] == ("not_stored", "not_stored")
    assert stats.partial_reasons == {"over_limit": 1, "unsupported_language": 1}
    assert stats.fields_failed == 1


def test_client_detections_keep_the_client_id(engine: Engine, tmp_path: Path) -> None:
    register = tmp_path / "clients.csv"
    register.write_text(
        "client_id,name,aliases,accounts\nC001,Halvorsen Maritime,,4402-118734\n",
        encoding="utf-8",
    )
    scanner = build_scanner(ScanSettings(client_register=register), b"stage-key")
    with session_scope(engine) as s:
        (iid,) = _seed(s, [("c", "Pay Halvorsen Maritime from 4402 118734", None, "present")])
        scan_sample(s, scanner, SAMPLE_ID)
        rows = s.execute(
            select(Detection.entity_type, Detection.subject_id, Detection.masked_excerpt).where(
                Detection.interaction_id == iid
            )
        ).all()
    got = {(etype, subject) for etype, subject, _ in rows}
    assert got == {("CLIENT_NAME", "C001"), ("CLIENT_ACCOUNT", "C001")}
    for _, _, excerpt in rows:
        assert "Halvorsen" not in excerpt and "118734" not in excerpt
        assert "[CLIENT_NAME:C001]" in excerpt
