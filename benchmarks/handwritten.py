"""The hand-written labelled set (benchmarks/data/handwritten.txt) as accuracy-harness samples.

    .venv/bin/python benchmarks/handwritten.py     # counts per kind and label type

Each line is `kind<TAB>text` with labelled values written ⟦TYPE|value⟧ and line breaks as
`\\n`; the marks are removed here and the offsets computed from them, so labels cannot drift
from the text.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from accuracy_corpus import Sample, Span

DATA = Path(__file__).resolve().parent / "data" / "handwritten.txt"
# The held-out set: same format, written after the recognizers of issue 17 and never tuned on.
HELDOUT = Path(__file__).resolve().parent / "data" / "heldout.txt"
OPEN, SEP, CLOSE = "⟦", "|", "⟧"


class MarkupError(ValueError):
    """A line of the hand-written set whose marks do not parse (names the line)."""


def parse(marked: str, line: int = 0, name: str = DATA.name) -> tuple[str, list[Span]]:
    """The plain text of a marked-up line and its labelled spans (errors name file `name`)."""
    out: list[str] = []
    spans: list[Span] = []
    length = 0
    pos = 0
    while True:
        start = marked.find(OPEN, pos)
        if start < 0:
            break
        sep = marked.find(SEP, start)
        end = marked.find(CLOSE, start)
        if sep < 0 or end < 0 or sep > end or OPEN in marked[start + 1 : end]:
            raise MarkupError(f"{name} line {line}: unbalanced ⟦TYPE|value⟧ mark")
        plain = marked[pos:start]
        out.append(plain)
        length += len(plain)
        etype, value = marked[start + 1 : sep], marked[sep + 1 : end]
        if not etype.isupper() or not value or value != value.strip():
            raise MarkupError(f"{name} line {line}: bad label {etype!r}")
        spans.append(Span(length, length + len(value), etype))
        out.append(value)
        length += len(value)
        pos = end + 1
    rest = marked[pos:]
    if CLOSE in rest:
        raise MarkupError(f"{name} line {line}: ⟧ without ⟦")
    out.append(rest)
    return "".join(out), spans


def load(path: Path = DATA) -> list[Sample]:
    """Every prompt of the set; `Sample.template` holds its kind (card, code, ...)."""
    prefix = "ho" if path == HELDOUT else "hw"
    samples = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        kind, sep, marked = raw.partition("\t")
        if not sep:
            raise MarkupError(f"{path.name} line {number}: expected kind<TAB>text")
        text, spans = parse(marked.replace("\\n", "\n"), number, path.name)
        samples.append(Sample(f"{prefix}-{number:04d}", text, spans, kind))
    return samples


def main() -> None:
    path = HELDOUT if sys.argv[1:] == ["--heldout"] else DATA
    samples = load(path)
    print(f"{path.name}: {len(samples)} prompts")
    print("by kind:", dict(Counter(s.template for s in samples)))
    print("labels:", dict(Counter(sp.entity_type for s in samples for sp in s.spans)))


if __name__ == "__main__":
    main()
