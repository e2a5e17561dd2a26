"""The review trail's hash chain: kept for every event whoever adds it, existing history
chained by the migration, and any edit, deletion, insertion or reordering found and named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import ReviewEvent
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.db.trail import GENESIS, event_digest, verify
from auditor.review import EVERYONE, record_disposition, resolve
from tests.test_review import _findings


def _trail(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        _findings(s, tmp_path)
    with session_scope(engine) as s:
        resolve(s, "0abcdef0123456789", "confirmed", "first", "alice")
        resolve(s, "2abcdef0123456789", "confirmed", "second", "bob")
    with session_scope(engine) as s:
        record_disposition(
            s,
            EVERYONE,
            "1abcdef0123456789",
            "false-positive",
            "third",
            actor="carol",
            role="reviewer",
        )
        resolve(s, "0abcdef0123456789", "accepted-risk", "fourth", "dave")


def test_every_event_is_chained_in_order(engine: Engine, tmp_path: Path) -> None:
    _trail(engine, tmp_path)
    with session_scope(engine) as s:
        events = list(s.scalars(select(ReviewEvent).order_by(ReviewEvent.id)))
        check = verify(s)
    assert [e.note for e in events] == ["first", "second", "third", "fourth"]
    assert events[0].prev_hash == GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.event_hash
    assert check.ok and check.events == 4 and check.head == events[-1].event_hash


def test_two_appends_on_the_same_head_cannot_both_land(engine: Engine, tmp_path: Path) -> None:
    _trail(engine, tmp_path)
    with session_scope(engine) as s:
        head = verify(s).head
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.execute(
            text(
                "INSERT INTO review_events (finding_id, at, reviewer, disposition, note, "
                "prev_hash, event_hash) VALUES ('0abcdef0123456789', '2026-12-01', 'x', "
                "'confirmed', 'fork', :p, 'f')"
            ),
            {"p": head},
        )
        s.execute(
            text(
                "INSERT INTO review_events (finding_id, at, reviewer, disposition, note, "
                "prev_hash, event_hash) VALUES ('0abcdef0123456789', '2026-12-01', 'y', "
                "'confirmed', 'fork', :p, 'g')"
            ),
            {"p": head},
        )


def _swap(s: Session) -> None:
    s.execute(text("UPDATE review_events SET id = 100 WHERE id = 2"))
    s.execute(text("UPDATE review_events SET id = 2 WHERE id = 3"))
    s.execute(text("UPDATE review_events SET id = 3 WHERE id = 100"))


def _rehash_edit(s: Session) -> None:
    e = s.get(ReviewEvent, 2)
    assert e is not None
    e.note = "nothing to see"
    e.event_hash = event_digest(
        e.prev_hash, e.finding_id, e.reviewer, e.role, e.disposition, e.note, e.at
    )


TAMPERING: list[tuple[str, Callable[[Session], None], int, str]] = [
    (
        "edit-note",
        lambda s: s.execute(text("UPDATE review_events SET note='ok' WHERE id=2")),
        2,
        "edited",
    ),
    (
        "edit-reviewer",
        lambda s: s.execute(text("UPDATE review_events SET reviewer='eve' WHERE id=3")),
        3,
        "edited",
    ),
    (
        "edit-disposition",
        lambda s: s.execute(text("UPDATE review_events SET disposition='confirmed' WHERE id=3")),
        3,
        "edited",
    ),
    (
        "edit-time",
        lambda s: s.execute(
            text("UPDATE review_events SET at='2020-01-01 00:00:00.000000' WHERE id=1")
        ),
        1,
        "edited",
    ),
    (
        "edit-role",
        lambda s: s.execute(text("UPDATE review_events SET role='reviewer' WHERE id=1")),
        1,
        "edited",
    ),
    ("delete", lambda s: s.execute(text("DELETE FROM review_events WHERE id=2")), 3, "deleted"),
    (
        "delete-first",
        lambda s: s.execute(text("DELETE FROM review_events WHERE id=1")),
        2,
        "deleted",
    ),
    ("reorder", _swap, 2, "reordered"),
    (
        "insert",
        lambda s: s.execute(
            text(
                "INSERT INTO review_events (id, finding_id, at, reviewer, disposition, note, "
                "prev_hash, event_hash) SELECT 5, finding_id, at, 'eve', 'confirmed', 'x', "
                "'1' || substr(prev_hash, 2), event_hash FROM review_events WHERE id = 4"
            )
        ),
        5,
        "inserted",
    ),
    ("edit-and-rehash", _rehash_edit, 3, "re-hashed"),
]


@pytest.mark.parametrize(
    ("name", "tamper", "broken", "word"), TAMPERING, ids=[t[0] for t in TAMPERING]
)
def test_tampering_is_found_and_named(
    engine: Engine,
    tmp_path: Path,
    name: str,
    tamper: Callable[[Session], None],
    broken: int,
    word: str,
) -> None:
    _trail(engine, tmp_path)
    with session_scope(engine) as s:
        tamper(s)
    with session_scope(engine) as s:
        check = verify(s)
    assert not check.ok
    assert check.broken_id == broken
    assert word in (check.reason or "")


def test_the_migration_chains_existing_history(settings: Settings, tmp_path: Path) -> None:
    engine = make_engine(settings.database.url)
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO interactions (id, event_id, source_format, occurred_at, "
                "history_turns, content_status, attributes) VALUES "
                "(1, 'e', 'x', '2026-10-01 00:00:00', 0, 'present', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO findings (id, interaction_id, rule_id, entity_type, value_hash, "
                "severity, title, message, status, first_seen, last_seen) VALUES ('f1', 1, 'r', "
                "'', '', 'high', 't', 'm', 'confirmed', '2026-10-01', '2026-10-01')"
            )
        )
        for n, who in enumerate(("auditor", "alice", "bob"), 1):
            conn.execute(
                text(
                    "INSERT INTO review_events (id, finding_id, at, reviewer, disposition, note) "
                    "VALUES (:id, 'f1', :at, :who, 'confirmed', :note)"
                ),
                {"id": n, "at": f"2026-10-0{n} 10:00:00.000000", "who": who, "note": f"n{n}"},
            )
    upgrade(engine)
    with session_scope(engine) as s:
        check = verify(s)
        assert check.ok and check.events == 3
        # A new event continues the migrated chain.
        resolve(s, "f1", "confirmed", "after the upgrade", "carol")
    with session_scope(engine) as s:
        assert verify(s).events == 4 and verify(s).ok
    engine.dispose()


def test_verify_trail_command(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    _trail(engine, tmp_path)
    assert main(["review", "verify-trail"]) == 0
    assert "verifies: 4 event(s), head " in capsys.readouterr().out
    with session_scope(engine) as s:
        s.execute(text("UPDATE review_events SET note = 'harmless' WHERE id = 3"))
    assert main(["review", "verify-trail"]) == 1
    err = capsys.readouterr().err
    assert "broken at event 3 (finding 1abcdef01234)" in err and "edited" in err


def test_two_dispositions_at_once_both_stay_in_the_trail(engine: Engine, tmp_path: Path) -> None:
    """Two reviewers' sessions open side by side and both record: neither overwrites the
    other; both events are in the history, chained, and the status follows the later one."""
    from auditor.db.models import Finding
    from auditor.db.session import session_factory

    with session_scope(engine) as s:
        _findings(s, tmp_path)
    make = session_factory(engine)
    first, second = make(), make()
    try:
        fid = "2abcdef0123456789"
        assert first.get(Finding, fid) is not None and second.get(Finding, fid) is not None
        record_disposition(first, EVERYONE, fid, "confirmed", "mine", actor="ann", role="reviewer")
        first.commit()
        record_disposition(
            second, EVERYONE, fid, "accepted-risk", "theirs", actor="bob", role="reviewer"
        )
        second.commit()
    finally:
        first.close()
        second.close()
    with session_scope(engine) as s:
        events = list(s.scalars(select(ReviewEvent).order_by(ReviewEvent.id)))
        assert [(e.reviewer, e.note) for e in events] == [("ann", "mine"), ("bob", "theirs")]
        assert s.get(Finding, fid).status == "pending_approval"  # high: four-eyes
        assert verify(s).ok and verify(s).events == 2
