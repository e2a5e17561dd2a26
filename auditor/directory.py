"""People directory: load an HR extract so findings roll up by department and reach managers.

`people.csv` needs at least `user_id,email,name,department,manager_id,region`; any further
columns are kept as attributes (and reported as such, so nothing is silently dropped).
Loading is an upsert by `user_id`: loading the same file twice changes nothing. Every
non-blank row after the header is counted: loaded, or rejected with its line and a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auditor.db.models import Interaction, Person
from auditor.errors import InputError
from auditor.ingest.csvrows import CsvRow, CsvRows

REQUIRED_COLUMNS = ("user_id", "email", "name", "department", "manager_id", "region")
MAX_NAME_CHARS = 200
# An HR extract's row is small: a cell longer than this is broken quoting, not a value.
MAX_FIELD_BYTES = 64 * 1024
MAX_ROW_BYTES = 1024 * 1024


@dataclass
class DirectoryResult:
    path: Path
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    unknown_managers: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows == self.inserted + self.updated + self.unchanged + len(self.rejected)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _row_problem(values: dict[str, str | None]) -> str | None:
    name = values.get("name")
    if name is not None and len(name) > MAX_NAME_CHARS:
        return f"name is longer than {MAX_NAME_CHARS} characters"
    for column, value in values.items():
        if value is not None and ("\n" in value or "\r" in value):
            return f"`{column}` holds a line break"
    return None


def _read_rows(path: Path) -> Iterator[CsvRow]:
    """The file's rows; raises InputError if it cannot be opened or read."""
    try:
        with path.open("rb") as fh:
            yield from CsvRows(fh, max_row_bytes=MAX_ROW_BYTES, max_field_bytes=MAX_FIELD_BYTES)()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None


def load_people(session: Session, path: Path) -> DirectoryResult:
    """Upsert people from a CSV file. Raises InputError if the file or its header is unusable;
    a bad row is rejected with its line number and the rest still loads.

    A row is rejected for an empty or repeated user_id, more fields than the header, a byte
    that is not UTF-8, a name longer than 200 characters, or a line break in any cell; broken
    quoting rejects the row it starts and reading starts again at the next line
    (`auditor.ingest.csvrows`), so one stray quote cannot merge the rows that follow.
    """
    rows_in = _read_rows(path)
    header_row = next((r for r in rows_in if not r.blank), None)
    if header_row is None or header_row.fields is None:
        why = header_row.problem if header_row is not None else "the file is empty"
        raise InputError(f"{path}: no usable header ({why})")
    if header_row.notes:
        raise InputError(
            f"{path}: the header is not valid UTF-8", "export the directory as UTF-8 CSV"
        )
    header = [h.strip() for h in header_row.fields]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}",
            f"the header needs at least: {','.join(REQUIRED_COLUMNS)}",
        )
    result = DirectoryResult(
        path=path, extra_columns=[h for h in header if h not in REQUIRED_COLUMNS]
    )
    existing = {p.user_id: p for p in session.scalars(select(Person))}
    seen: set[str] = set()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows: list[tuple[int, dict[str, str | None]]] = []
    for row in rows_in:
        if row.blank:
            continue
        result.rows += 1
        line_no = row.first
        if row.fields is None:
            result.rejected.append((line_no, row.problem or "not valid CSV"))
            continue
        if row.notes:
            result.rejected.append((line_no, "not valid UTF-8 (the row is not loaded)"))
            continue
        if len(row.fields) > len(header):
            result.rejected.append((line_no, "more fields than header columns"))
            continue
        cells: list[str | None] = [*row.fields, *[None] * (len(header) - len(row.fields))]
        values = {k: _clean(v) for k, v in zip(header, cells, strict=True)}
        problem = _row_problem(values)
        if problem is not None:
            result.rejected.append((line_no, problem))
            continue
        uid = values.get("user_id")
        if not uid:
            result.rejected.append((line_no, "user_id is empty"))
            continue
        if uid in seen:
            result.rejected.append((line_no, f"user_id {uid} appears twice"))
            continue
        seen.add(uid)
        rows.append((line_no, values))
    ids = set(existing) | seen
    for _, values in rows:
        uid = values["user_id"] or ""
        attrs = {k: v for k, v in values.items() if k in result.extra_columns and v is not None}
        fields = {
            "email": values["email"].lower() if values["email"] else None,
            "name": values["name"],
            "department": values["department"],
            "manager_id": values["manager_id"],
            "region": values["region"],
            "attributes": attrs,
        }
        if fields["manager_id"] and fields["manager_id"] not in ids:
            result.unknown_managers += 1
        person = existing.get(uid)
        if person is None:
            session.add(Person(user_id=uid, loaded_at=now, **fields))
            result.inserted += 1
        elif any(getattr(person, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(person, k, v)
            person.loaded_at = now
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    return result


def reporting_line(session: Session, manager_id: str) -> set[str]:
    """Everyone who reports to `manager_id`, directly or indirectly (not the manager)."""
    children: dict[str, list[str]] = {}
    for uid, mid in session.execute(select(Person.user_id, Person.manager_id)):
        if mid:
            children.setdefault(mid, []).append(uid)
    out: set[str] = set()
    stack = list(children.get(manager_id, []))
    while stack:
        uid = stack.pop()
        if uid in out or uid == manager_id:
            continue
        out.add(uid)
        stack.extend(children.get(uid, []))
    return out


def link_identities(session: Session) -> int:
    """Give interactions that carry only an e-mail the directory's user id for it.

    Every later stage (tiers, findings by department, manager packets) joins on user id.
    Returns how many interactions were linked.
    """
    by_email = (
        select(Person.user_id)
        .where(Person.email == Interaction.user_email)
        .limit(1)
        .scalar_subquery()
    )
    result = session.execute(
        update(Interaction)
        .where(Interaction.user_id.is_(None), Interaction.user_email.is_not(None))
        .where(Interaction.user_email.in_(select(Person.email).where(Person.email.is_not(None))))
        .values(user_id=by_email)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)  # a CursorResult for an UPDATE
