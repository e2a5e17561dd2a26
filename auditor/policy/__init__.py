"""Policies: the only place that knows Rego/OPA.

`build_policy_input` makes the document the policies see, a `PolicyEngine` (built by
`build_engine`: embedded regorus, or an OPA server via `auditor.policy.opa`) evaluates it,
`evaluate_sample` records the verdicts as decisions, and `rule_catalog` gives reports the
rules with their frameworks, the pack revision and the engine.
"""

from __future__ import annotations

from auditor.policy.engine import (
    EmbeddedEngine,
    FrameworkRef,
    PolicyBundle,
    PolicyEngine,
    RegoTestResult,
    RuleCatalog,
    RuleInfo,
    UnavailableEngine,
    Violation,
    build_engine,
    load_bundle,
    rule_catalog,
)
from auditor.policy.evaluate import EvaluateStats, evaluate_sample
from auditor.policy.input import build_policy_input

__all__ = [
    "EmbeddedEngine",
    "EvaluateStats",
    "FrameworkRef",
    "PolicyBundle",
    "PolicyEngine",
    "RegoTestResult",
    "RuleCatalog",
    "RuleInfo",
    "UnavailableEngine",
    "Violation",
    "build_engine",
    "build_policy_input",
    "evaluate_sample",
    "load_bundle",
    "rule_catalog",
]
