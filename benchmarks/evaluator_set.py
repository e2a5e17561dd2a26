"""The presidio-evaluator labelled set (benchmarks/data/presidio_evaluator.jsonl) as samples.

    .venv/bin/python benchmarks/evaluator_set.py     # counts per label type

Generated once by benchmarks/generate_evaluator_set.py (presidio-evaluator 0.3.2, seed 1707,
1,500 samples) and committed, so reading it needs neither the generator nor a network. The
generator labels the parts of a name or an address it filled from separate template fields
("{{first_name}} {{last_name}}", "{{building_number}} {{street_name}}\\n {{city}}"): adjacent
parts are joined here into one value, as a reader (and the scanner) sees it: PERSON parts
separated by spaces only, and STREET_ADDRESS parts with the city, state or country (GPE) parts
between or after them, separated by spaces, commas or line breaks (also the literal `\\n` some
templates carry). A city or country on its own stays GPE, which is not scored.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from accuracy_corpus import Sample, Span

DATA = Path(__file__).resolve().parent / "data" / "presidio_evaluator.jsonl"
# Where the generator's values come from (tests/benchmarks/test_independence.py): its record
# file of people (names, streets, cities, phones, e-mail addresses), and Faker's providers for
# what the records lack: names by gender ("{{name_female}}") and non-binary first names from the
# en_US person provider, card numbers, IBANs, SSNs, dates.
SOURCES = frozenset(
    {
        "presidio_evaluator/data_generator/raw_data/FakeNameGenerator.com_3000.csv",
        "presidio_evaluator/data_generator/raw_data/templates.txt",
        "faker.providers.person.en_US",
        "faker.providers.person",
        "faker.providers.credit_card",
        "faker.providers.bank.en_US",
        "faker.providers.ssn.en_US",
    }
)
_PERSON_GAP = re.compile(r"[ ]{1,2}")
_ADDRESS_GAP = re.compile(r"(?:[ ,]|\n|\\n){0,6}")


def _join(text: str, spans: list[list]) -> list[Span]:  # type: ignore[type-arg]
    merged: list[list] = []  # type: ignore[type-arg]
    for start, end, etype in sorted(spans):
        if merged:
            last = merged[-1]
            gap = text[last[1] : start]
            if etype == last[2] == "PERSON" and _PERSON_GAP.fullmatch(gap):
                last[1] = end
                continue
            if (
                {etype, last[2]} <= {"STREET_ADDRESS", "GPE"}
                and "STREET_ADDRESS" in (etype, last[2])
                and _ADDRESS_GAP.fullmatch(gap)
            ):
                last[1], last[2] = end, "STREET_ADDRESS"
                continue
        merged.append([start, end, etype])
    return [Span(s, e, t) for s, e, t in merged]


def load(path: Path = DATA) -> list[Sample]:
    """Every sample; `Sample.template` holds the generator's template id."""
    samples = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if "header" in row:
                continue
            samples.append(
                Sample(
                    row["id"],
                    row["text"],
                    _join(row["text"], row["spans"]),
                    str(row["template_id"]),
                )
            )
    return samples


def header(path: Path = DATA) -> dict[str, str]:
    with path.open(encoding="utf-8") as fh:
        return dict(json.loads(fh.readline())["header"])


def main() -> None:
    samples = load()
    print(f"{len(samples)} samples, {header()}")
    print("labels:", dict(Counter(sp.entity_type for s in samples for sp in s.spans)))


if __name__ == "__main__":
    main()
