"""Policy decisions per second, engine beside engine: load the pack once, evaluate many.

    .venv/bin/python benchmarks/policy_throughput.py [--inputs N] [--seed S]
        [--engines embedded,interpreted,opa-go]

Builds N policy input documents (the example documents of policies/examples plus seeded
variations of them: other tools, workflows, users, oversight facts and detections, in the
proportions of a month of use), then, for each engine in turn on the same documents and the
same core: loads the pack, evaluates every document once, and reports load time, inputs per
second of wall time (load included, and evaluation alone) and per CPU second (steadier on a
shared machine). Engines: `embedded` (regorus, compiled: the default engine), `interpreted`
(regorus' interpreter), `opa-go` (OPA's own Go evaluator, in-process; skipped with a message
if its bindings are not installed). Every engine's decisions must equal the interpreter's on
every document, so a fast wrong answer cannot pass for a result.
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

from auditor.policy.engine import (
    EmbeddedEngine,
    PolicyBundle,
    PolicyEngine,
    load_bundle,
)

ROOT = Path(__file__).resolve().parents[1]

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


def _engine(name: str, bundle: PolicyBundle) -> PolicyEngine:
    if name == "opa-go":
        from auditor.policy.opa_go import OpaGoEngine

        return OpaGoEngine(bundle)
    return EmbeddedEngine(bundle, compiled=name == "embedded")


def measure(name: str, bundle: PolicyBundle, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Load the pack on `name` and evaluate every document once; timings and decisions."""
    wall = time.perf_counter()
    engine = _engine(name, bundle)
    load_s = time.perf_counter() - wall
    run_wall, run_cpu = time.perf_counter(), time.process_time()
    decisions = [engine.evaluate(doc) for doc in docs]
    end_wall, end_cpu = time.perf_counter(), time.process_time()
    label = f"embedded ({engine.mode})" if isinstance(engine, EmbeddedEngine) else engine.name
    return {
        "engine": label,
        "load_seconds": round(load_s, 3),
        "inputs_per_second": round(len(docs) / (end_wall - run_wall)),
        "inputs_per_second_with_load": round(len(docs) / (end_wall - wall)),
        "inputs_per_cpu_second": round(len(docs) / (end_cpu - run_cpu))
        if end_cpu > run_cpu
        else None,
        "decisions": decisions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="embedded,interpreted,opa-go")
    args = parser.parse_args(argv)

    bundle = load_bundle(ROOT / "policies")
    docs = make_inputs(dict(bundle.examples), args.inputs, args.seed)
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    if "opa-go" in names:
        from auditor.policy import opa_go

        if not opa_go.available():
            print(f"opa-go skipped: {opa_go.INSTALL_HINT}", file=sys.stderr)
            names.remove("opa-go")
    results = [measure(name, bundle, docs) for name in names]
    reference = EmbeddedEngine(bundle, compiled=False)
    want = [reference.evaluate(doc) for doc in docs]
    for result in results:
        if result.pop("decisions") != want:
            print(f"{result['engine']}: decisions differ from the interpreter", file=sys.stderr)
            return 1
    baseline = results[0]["inputs_per_second_with_load"] if results else 0
    print(
        f"{len(docs):,} inputs, {len(bundle.modules)} modules, policy revision "
        f"{bundle.revision[:12]}, {sum(len(d) for d in want):,} violations; "
        "every engine's decisions equal the interpreter's"
    )
    print(
        f"{'engine':<24}{'load s':>8}{'inputs/s':>10}{'with load':>11}{'per CPU s':>11}{'ratio':>7}"
    )
    for r in results:
        ratio = r["inputs_per_second_with_load"] / baseline if baseline else 0.0
        print(
            f"{r['engine']:<24}{r['load_seconds']:>8.3f}{r['inputs_per_second']:>10,}"
            f"{r['inputs_per_second_with_load']:>11,}{r['inputs_per_cpu_second'] or 0:>11,}"
            f"{ratio:>6.2f}x"
        )
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
