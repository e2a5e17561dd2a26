from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from auditor.db.models import Finding, ReviewEvent
from auditor.directory import load_people
from auditor.errors import InputError, NotFoundError
from auditor.ingest.stage import ingest_paths
from auditor.review import history, list_findings, resolve
from tests.conftest import DATA, chat_record, write_jsonl

pytestmark = pytest.mark.both_databases


def _findings(session: Session, tmp_path: Path) -> None:
    load_people(session, DATA / "people" / "people.csv")
    recs = [
        chat_record("e1", "x", user="u00001"),
        chat_record("e2", "x", user="u00003"),
        chat_record("e3", "x", user="u00004"),
    ]
    ingest_paths(
        session, [write_jsonl(tmp_path / "l.jsonl", recs)], "openai-chat", max_line_bytes=1 << 24
    )
    t = datetime(2026, 11, 1)
    for n, (sev, iid) in enumerate([("low", 1), ("critical", 2), ("high", 3)]):
        session.add(
            Finding(
                id=f"{n}abcdef0123456789",
                interaction_id=iid,
                rule_id=f"rule-{sev}",
                severity=sev,
                title=sev,
                message="m",
                masked_excerpt="[PERSON] said",
                status="open",
                first_seen=t,
                last_seen=t,
            )
        )
    session.flush()


def test_list_orders_by_severity_and_filters(session: Session, tmp_path: Path) -> None:
    _findings(session, tmp_path)
    assert [i.severity for i in list_findings(session)] == ["critical", "high", "low"]
    assert [i.severity for i in list_findings(session, severity="high")] == ["high"]
    markets = list_findings(session, manager_id="u00010")
    assert [(i.user_id, i.department) for i in markets] == [("u00001", "Markets")]
    assert len(list_findings(session, manager_id="u00099")) == 3
    with pytest.raises(NotFoundError):
        list_findings(session, manager_id="u00003")


def test_resolve_records_who_when_and_why_append_only(session: Session, tmp_path: Path) -> None:
    _findings(session, tmp_path)
    resolve(session, "1abcdef", "false-positive", "test card from the vendor's docs", "alice")
    resolve(session, "1abcdef0123456789", "confirmed", "on second look it is real", "bob")
    events = history(session, "1abcdef")
    assert [(e.reviewer, e.disposition) for e in events] == [
        ("alice", "false-positive"),
        ("bob", "confirmed"),
    ]
    assert all(isinstance(e.at, datetime) for e in events)
    assert session.get(Finding, "1abcdef0123456789").status == "confirmed"  # type: ignore[union-attr]
    assert [i.id for i in list_findings(session)] == ["2abcdef0123456789", "0abcdef0123456789"]
    assert session.query(ReviewEvent).count() == 2


@pytest.mark.parametrize(
    ("fid", "disposition", "note", "reviewer", "error"),
    [
        ("1abcdef", "maybe", "n", "r", InputError),
        ("1abcdef", "confirmed", " ", "r", InputError),
        ("1abcdef", "confirmed", "n", "", InputError),
        ("1ab", "confirmed", "n", "r", InputError),
        ("zzzzzzzz", "confirmed", "n", "r", NotFoundError),
        ("abcdef0", "confirmed", "n", "r", NotFoundError),
    ],
)
def test_resolve_refuses_bad_requests(
    session: Session,
    tmp_path: Path,
    fid: str,
    disposition: str,
    note: str,
    reviewer: str,
    error: type,
) -> None:
    _findings(session, tmp_path)
    with pytest.raises(error):
        resolve(session, fid, disposition, note, reviewer)


@pytest.mark.parametrize(
    ("kwargs", "count"),
    [({"statuses": ["false-positive"]}, 0), ({"statuses": ["open", "superseded"]}, 3)],
)
def test_status_spellings(session: Session, tmp_path: Path, kwargs: dict, count: int) -> None:  # type: ignore[type-arg]
    _findings(session, tmp_path)
    assert len(list_findings(session, **kwargs)) == count


@pytest.mark.parametrize("kwargs", [{"statuses": ["closed"]}, {"severity": "urgent"}])
def test_unknown_filters_are_refused(session: Session, tmp_path: Path, kwargs: dict) -> None:  # type: ignore[type-arg]
    _findings(session, tmp_path)
    with pytest.raises(InputError):
        list_findings(session, **kwargs)
