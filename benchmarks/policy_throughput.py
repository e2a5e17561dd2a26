"""Policy decisions per second on the embedded engine: compile the pack once, evaluate many.

    .venv/bin/python benchmarks/policy_throughput.py [--inputs N] [--interpreted] [--seed S]

Builds N policy input documents (the example documents of policies/examples plus seeded
variations of them: other tools, workflows, users, oversight facts and detections, in the
proportions of a month of use), loads the pack once, evaluates every document once and prints
inputs per second of wall time and of CPU time (the CPU figure is steadier on a shared
machine). `--interpreted` evaluates with the regorus interpreter instead of the compiled
program, for comparison. Each decision is checked against the interpreter on a subset, so
a fast wrong answer cannot pass for a result.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.policy.engine import EmbeddedEngine, load_bundle  # noqa: E402

TOOLS = [
    ("chatgpt-enterprise", 30),
    ("atlas-internal", 25),
    ("copilot-business", 20),
    ("claude-enterprise", 18),
    ("perplexity", 4),
    ("chatgpt-free", 2),
    ("deepseek-chat", 1),
]
WORKFLOWS = [
    ("coding", 28),
    ("internal_drafting", 22),
    ("research", 18),
    ("client_comm", 15),
    ("credit_decision", 6),
    ("marketing", 4),
    ("deal_team", 4),
    ("hr_eval", 3),
]
TYPES = ["PERSON", "EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "CLIENT_NAME", "RESTRICTED_TERM"]


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def make_inputs(examples: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """N documents: the examples as written, then seeded variations of them."""
    rng = random.Random(seed)
    base = [examples[name] for name in sorted(examples)]
    docs = [copy.deepcopy(d) for d in base][:n]
    while len(docs) < n:
        doc = copy.deepcopy(rng.choice(base))
        i = doc["interaction"]
        i["id"] = len(docs) + 1
        i["event_id"] = f"evt-{len(docs) + 1:08d}"
        i["tool"] = _pick(rng, TOOLS)
        i["workflow"] = _pick(rng, WORKFLOWS)
        i["account_type"] = "personal" if rng.random() < 0.02 else "enterprise_sso"
        doc["user"]["ai_literacy_done"] = rng.random() < 0.9
        doc["user"]["barrier_side"] = "private" if rng.random() < 0.08 else "public"
        doc["oversight"]["output_used_externally"] = rng.random() < 0.1 or None
        doc["oversight"]["agent_action"] = "execute" if rng.random() < 0.03 else "none"
        doc["detections"] = {
            t: {"count": rng.randint(1, 3), "max_score": rng.choice([0.45, 0.85, 1.0])}
            for t in TYPES
            if rng.random() < 0.06
        }
        docs.append(doc)
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interpreted", action="store_true")
    args = parser.parse_args(argv)

    bundle = load_bundle(ROOT / "policies")
    started = time.perf_counter()
    engine = EmbeddedEngine(bundle, compiled=not args.interpreted)
    load_s = time.perf_counter() - started
    docs = make_inputs(dict(bundle.examples), args.inputs, args.seed)

    wall, cpu = time.perf_counter(), time.process_time()
    decisions = [engine.evaluate(doc) for doc in docs]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    reference = EmbeddedEngine(bundle, compiled=False)
    step = max(1, len(docs) // 500)
    for k in range(0, len(docs), step):
        if reference.evaluate(docs[k]) != decisions[k]:
            print(f"input {k}: decision differs from the interpreter", file=sys.stderr)
            return 1
    violations = sum(len(d) for d in decisions)
    print(
        json.dumps(
            {
                "engine": f"embedded ({engine.mode})",
                "policy_revision": engine.revision[:12],
                "rules": len(engine.rules()),
                "inputs": len(docs),
                "violations": violations,
                "load_seconds": round(load_s, 3),
                "inputs_per_second": round(len(docs) / wall),
                "inputs_per_cpu_second": round(len(docs) / cpu) if cpu else None,
            }
        )
    )
    print(f"{len(docs) / wall:,.0f} inputs/s ({engine.mode}, {len(docs):,} inputs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
