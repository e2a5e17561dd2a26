"""Policies: the only place that knows Rego/OPA.

`build_policy_input` makes the document the policies see, a `PolicyEngine` (built by
`build_engine`) evaluates it, and `evaluate_sample` records the verdicts as decisions.
"""

from __future__ import annotations

from auditor.policy.engine import (
    EmbeddedEngine,
    PolicyBundle,
    PolicyEngine,
    RegoTestResult,
    RuleInfo,
    Violation,
    build_engine,
    load_bundle,
)
from auditor.policy.evaluate import EvaluateStats, evaluate_sample
from auditor.policy.input import build_policy_input

__all__ = [
    "EmbeddedEngine",
    "EvaluateStats",
    "PolicyBundle",
    "PolicyEngine",
    "RegoTestResult",
    "RuleInfo",
    "Violation",
    "build_engine",
    "build_policy_input",
    "evaluate_sample",
    "load_bundle",
]
