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
    [("missing_column.csv", "missing column(s) department")],
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


# -- case 6: a people CSV that cannot hide a loss ----------------------------------------------

PEOPLE_HEADER = "user_id,email,name,department,manager_id,region\n"


def _people(n: int) -> list[str]:
    return [f"u{i:05d},p{i}@x.example,Person {i},Markets,,UK\n" for i in range(n)]


def test_case_06_one_bad_byte_rejects_that_row_not_the_file(session: Session) -> None:
    res = load_people(session, PEOPLE / "not_utf8.csv")
    assert res.rejected == [(2, "not valid UTF-8 (the row is not loaded)")]
    assert res.inserted == 0 and res.reconciles


def test_case_06_stray_quote_in_people_csv_does_not_merge_names(
    session: Session, tmp_path: Path
) -> None:
    rows = _people(300)
    rows[134] = rows[134].replace(",Person 134,", ',"Person 134,')
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE_HEADER + "".join(rows))
    res = load_people(session, path)
    assert res.rows == 300 and res.reconciles
    assert [n for n, _ in res.rejected] == [136]
    assert res.inserted == 299
    longest = max(len(p.name or "") for p in session.scalars(select(Person)))
    assert longest <= 200


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ('u9,a@x.example,"' + "N" * 201 + '",Markets,,UK\n', "longer than 200 characters"),
        ('u9,a@x.example,"Jane\nDoe",Markets,,UK\n', "`name` holds a line break"),
        ("u9,a@x.example,Jane\rDoe,Markets,,UK\n", "new-line character seen"),
    ],
)
def test_case_06_bad_names_reject_the_row(
    session: Session, tmp_path: Path, row: str, reason: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE_HEADER + row + "u10,b@x.example,Bob,Markets,,UK\n", newline="")
    res = load_people(session, path)
    [(line_no, why)] = res.rejected
    assert line_no == 2 and reason in why
    assert res.inserted == 1 and res.reconciles
