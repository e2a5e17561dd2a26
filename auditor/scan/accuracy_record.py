"""The measured accuracy of each detection revision, as shipped with the package.

`benchmarks/accuracy.py --record` scores the labelled sets and writes their figures to
`conf/accuracy.json`, keyed by the *detection revision*: the scanner revision's inputs without
those that belong to the firm (its hash key, client register, restricted list, allow lists),
which change where values are hashed and which clients are named, not how well personal data is
found. A scan whose revision has the same detection inputs was measured; any other was not, and
the report says so. Reads JSON only: no presidio or spaCy import.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

ACCURACY_FILE = Path(__file__).resolve().parent / "conf" / "accuracy.json"

# Revision inputs (Scanner.revision_parts names) that are the firm's data, not detection.
FIRM_INPUTS = frozenset(
    {
        "key_id",
        "allow_list",
        "allow_domains",
        "recognizer ClientNameRecognizer",
        "recognizer ClientAccountRecognizer",
        "recognizer RestrictedTermRecognizer",
    }
)


def detection_revision(parts: dict[str, str]) -> str:
    """The digest of a scanner revision's inputs (name -> digest) less the firm's data."""
    kept = sorted((name, digest) for name, digest in parts.items() if name not in FIRM_INPUTS)
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:16]


def load_records(path: Path = ACCURACY_FILE) -> dict[str, dict[str, Any]]:
    """Detection revision -> its record ({"measured_at", "command", "sets": {...}}); empty if
    the file is missing. Raises ValueError naming the file if it is not the expected JSON."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = data["revisions"]
        if not isinstance(records, dict):
            raise TypeError("revisions is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not an accuracy record ({exc})") from exc
    return records


def save_record(revision: str, record: dict[str, Any], path: Path = ACCURACY_FILE) -> None:
    """Adds or replaces the record of `revision`, keeping those of other revisions."""
    records = load_records(path)
    records[revision] = record
    path.write_text(
        json.dumps({"revisions": records}, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
