"""Generate the "presidio-evaluator" labelled set with presidio-evaluator's data generator.

    python3 -m venv /tmp/pe && /tmp/pe/bin/pip install presidio-evaluator==0.3.2
    /tmp/pe/bin/python benchmarks/generate_evaluator_set.py      # --samples 1500 --seed 1707

Microsoft's presidio-evaluator (https://github.com/microsoft/presidio-research) is the public
PII benchmark generator of presidio's own evaluations: 209 sentence templates filled from a
FakeNameGenerator.com record file of 3,000 people of many countries (names, streets, cities,
phone numbers, e-mail addresses) and Faker providers for the rest (card numbers, IBANs, SSNs,
IP addresses). It needs pandas, scikit-learn, transformers and plotly, which the auditor does
not, so it runs in a venv of its own and its output is committed:
benchmarks/data/presidio_evaluator.jsonl, one sample a line ({"id", "template_id", "text",
"spans": [[start, end, type], ...]}), which benchmarks/accuracy.py reads offline.
Same version, seed and sample count: the same file.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "presidio_evaluator.jsonl"
VERSION = "0.3.2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1707)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from importlib.metadata import version

    if version("presidio-evaluator") != VERSION:
        found = version("presidio-evaluator")
        raise SystemExit(f"needs presidio-evaluator=={VERSION}, found {found}")
    from presidio_evaluator.data_generator import PresidioSentenceFaker

    # The record loader draws name shapes (middle initials) with `random` before the generator
    # seeds itself: seed it first too.
    random.seed(args.seed)
    faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, random_seed=args.seed)
    samples = faker.generate_new_fake_sentences(num_samples=args.samples)
    with args.out.open("w", encoding="utf-8") as fh:
        header = {
            "generator": f"presidio-evaluator=={VERSION}",
            "command": f"benchmarks/generate_evaluator_set.py --samples {args.samples} "
            f"--seed {args.seed}",
            "locale": "en_US",
            "lower_case_ratio": 0.05,
        }
        fh.write(json.dumps({"header": header}) + "\n")
        for i, s in enumerate(samples):
            spans = sorted([sp.start_position, sp.end_position, sp.entity_type] for sp in s.spans)
            row = {"id": f"pe-{i:05d}", "template_id": s.template_id, "text": s.full_text}
            fh.write(json.dumps({**row, "spans": spans}, ensure_ascii=False) + "\n")
    print(f"{len(samples)} samples written to {args.out}")


if __name__ == "__main__":
    main()
