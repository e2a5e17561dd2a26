"""Method section: the measured detection accuracy of the scanner revisions behind the findings.

Each counted scanner revision is matched, by its detection revision (the scan inputs less the
firm's key, registers and allow lists: auditor.scan.accuracy_record), to the accuracy record
shipped with the package. A revision with no record, or whose inputs were not stored, is shown
as not measured: the report never lends one revision's figures to another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Meta
from auditor.scan.accuracy_record import ACCURACY_FILE, detection_revision, load_records

# Meta rows "scanrev <revision> <n>" hold "<digest> <input name>" (auditor.scan.stage).
_REVISION_PREFIX = "scanrev"


@dataclass(frozen=True, slots=True)
class SetAccuracy:
    """Core-type figures of one labelled set (person, card, SSN, IBAN, e-mail, phone, IP,
    street address), the F1's 95% bootstrap interval, and stock presidio's F1 on the same set."""

    name: str
    texts: int
    independent: bool
    labels: int
    precision: float
    recall: float
    f1: float
    f1_low: float
    f1_high: float
    stock_f1: float | None


@dataclass(frozen=True, slots=True)
class RevisionAccuracy:
    scanner_revision: str
    detection_revision: str | None  # None: the revision's inputs were not stored
    measured: bool
    measured_at: str | None
    command: str | None
    sets: tuple[SetAccuracy, ...]


def _inputs(session: Session, revision: str) -> dict[str, str] | None:
    rows = session.scalars(
        select(Meta.value).where(Meta.key.startswith(f"{_REVISION_PREFIX} {revision} "))
    ).all()
    if not rows:
        return None
    return {name: digest for digest, name in (v.split(" ", 1) for v in rows)}


def _set(name: str, fig: dict) -> SetAccuracy:  # type: ignore[type-arg]
    core = fig["core"]
    stock = fig.get("stock_core")
    return SetAccuracy(
        name=name,
        texts=int(fig["texts"]),
        independent=bool(fig["independent"]),
        labels=int(core["labels"]),
        precision=float(core["precision"]),
        recall=float(core["recall"]),
        f1=float(core["f1"]),
        f1_low=float(core["f1_ci"][0]),
        f1_high=float(core["f1_ci"][1]),
        stock_f1=None if stock is None else float(stock["f1"]),
    )


def revision_accuracy(
    session: Session, revisions: tuple[str, ...], path: Path = ACCURACY_FILE
) -> tuple[RevisionAccuracy, ...]:
    """The recorded accuracy of each scanner revision (not measured where none is recorded)."""
    records = load_records(path)
    out = []
    for revision in revisions:
        inputs = _inputs(session, revision)
        det = None if inputs is None else detection_revision(inputs)
        record = records.get(det) if det is not None else None
        if record is None:
            out.append(RevisionAccuracy(revision, det, False, None, None, ()))
            continue
        out.append(
            RevisionAccuracy(
                revision,
                det,
                True,
                str(record.get("measured_at")),
                str(record.get("command")),
                tuple(_set(n, f) for n, f in sorted(record["sets"].items())),
            )
        )
    return tuple(out)
