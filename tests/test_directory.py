from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Person
from auditor.directory import load_people, reporting_line
from auditor.errors import InputError
from tests.conftest import DATA

PEOPLE = DATA / "people"


def test_load_and_reload_is_an_upsert(session: Session) -> None:
    first = load_people(session, PEOPLE / "people.csv")
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (8, 8, 0, 0)
    again = load_people(session, PEOPLE / "people.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)
    ann = session.get(Person, "u00001")
    assert ann is not None
    assert (ann.email, ann.department, ann.manager_id) == (
        "ann.lee@northbridge-bank.example",
        "Markets",
        "u00010",
    )


def test_extra_columns_are_kept_as_attributes(session: Session) -> None:
    res = load_people(session, PEOPLE / "extra_columns.csv")
    assert res.extra_columns == ["cost_center", "title"]
    person = session.get(Person, "u00001")
    assert person is not None
    assert person.attributes == {"cost_center": "CC-100", "title": "Trader"}


def test_bad_rows_are_rejected_with_line_numbers(session: Session) -> None:
    res = load_people(session, PEOPLE / "bad_rows.csv")
    assert [n for n, _ in res.rejected] == [3, 4, 5]
    assert "user_id is empty" in res.rejected[0][1]
    assert "appears twice" in res.rejected[1][1]
    assert "more fields" in res.rejected[2][1]
    assert res.inserted == 2
    assert res.reconciles
    assert sorted(session.scalars(select(Person.user_id))) == ["u00001", "u00006"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing_column.csv", "missing column(s) department"), ("not_utf8.csv", "not valid UTF-8")],
)
def test_unusable_files_name_the_file(session: Session, name: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_people(session, PEOPLE / name)
    assert name in str(info.value) and message in str(info.value)


def test_missing_file(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        load_people(session, tmp_path / "none.csv")


@pytest.mark.parametrize(
    ("manager", "team"),
    [
        ("u00010", {"u00001", "u00002"}),
        ("u00099", {"u00001", "u00002", "u00003", "u00004", "u00010", "u00011", "u00012"}),
        ("u00003", set()),
    ],
)
def test_reporting_line(session: Session, manager: str, team: set[str]) -> None:
    load_people(session, PEOPLE / "people.csv")
    assert reporting_line(session, manager) == team


def test_email_only_interactions_are_linked_to_the_directory(
    session: Session, tmp_path: Path
) -> None:
    from auditor.db.models import Interaction
    from auditor.directory import link_identities
    from auditor.ingest.stage import ingest_paths
    from tests.conftest import chat_record, write_jsonl

    rec = chat_record("e1", "x", user="", email="U00003@northbridge-bank.example")
    ingest_paths(
        session, [write_jsonl(tmp_path / "l.jsonl", [rec])], "openai-chat", max_line_bytes=1 << 20
    )
    load_people(session, PEOPLE / "people.csv")
    assert link_identities(session) == 1
    assert session.scalars(select(Interaction.user_id)).one() == "u00003"
    assert link_identities(session) == 0
