"""Bidirectional-text controls shown, not obeyed, in every report format.

A tool name, model or excerpt from a log can hold an invisible control (U+202E RIGHT-TO-LEFT
OVERRIDE and its kin) that makes a reader see text in another order than it is stored ("Trojan
Source"). The report context replaces each with a visible marker such as `[U+202E]` as it is
built (`mark_bidi_controls`), so the HTML, JSON, CSV and OCSF files all show the same marker.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

T = TypeVar("T")

# Embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069), the implicit marks
# (U+200E, U+200F) and the Arabic letter mark (U+061C).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _marker(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group(0)):04X}]"


def mark_text(text: str) -> str:
    """`text` with every bidi control replaced by its visible marker, e.g. "[U+202E]"."""
    return BIDI_CONTROLS.sub(_marker, text)


def mark_bidi_controls(value: T) -> T:
    """`value` (a report context: frozen dataclasses, tuples, lists, strings and scalars)
    with every string passed through `mark_text`; parts without a control are kept as is."""
    return _mark(value)  # type: ignore[no-any-return]


def _mark(value: Any) -> Any:
    if isinstance(value, str):
        return mark_text(value) if BIDI_CONTROLS.search(value) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _mark(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple | list):
        items = [_mark(v) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, dict):
        marked = {_mark(k): _mark(v) for k, v in value.items()}
        return marked if marked != value else value
    return value
