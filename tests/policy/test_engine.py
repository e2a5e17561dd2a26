"""EmbeddedEngine on the example inputs, rule-id consistency, revision and engine choice."""

from __future__ import annotations

import inspect
import json
import re
import time
from pathlib import Path

import pytest

from auditor.config import PolicySettings
from auditor.errors import PolicyError
from auditor.normalize import KNOWN_WORKFLOWS
from auditor.policy.engine import (
    EmbeddedEngine,
    PolicyEngine,
    Violation,
    build_engine,
    load_bundle,
)
from tests.policy.helpers import POLICY_DIR, example_names, load_example

CARD = "card-data-outside-pci-scope"
NPI = "client-npi-to-uncontracted-tool"
UNAPPROVED = "unapproved-tool"
PERSONAL = "personal-account-for-business"
GREY = "sensitive-data-grey-zone"

# Example input -> {rule id: (severity, entity types)} it must produce; nothing else.
EXPECTED: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "clean_internal": {},
    "card_to_internal": {},
    "card_to_copilot": {
        CARD: ("critical", ("CREDIT_CARD",)),
        NPI: ("high", ("CREDIT_CARD",)),
    },
    "card_to_chatgpt_enterprise": {CARD: ("critical", ("CREDIT_CARD",))},
    "npi_to_copilot": {NPI: ("high", ("PERSON", "US_SSN"))},
    "npi_bulk_to_copilot": {NPI: ("critical", ("EMAIL_ADDRESS", "US_BANK_NUMBER", "US_SSN"))},
    "identity_only_to_copilot": {},
    "npi_to_claude_enterprise": {},
    "prohibited_tool": {UNAPPROVED: ("high", ())},
    "pending_tool": {UNAPPROVED: ("high", ())},
    "consumer_account": {UNAPPROVED: ("high", ()), PERSONAL: ("high", ())},
    "unregistered_tool": {
        UNAPPROVED: ("high", ()),
        CARD: ("critical", ("CREDIT_CARD",)),
        NPI: ("high", ("CREDIT_CARD",)),
    },
    "unnamed_tool": {UNAPPROVED: ("high", ())},
    "grey_zone_ssn": {GREY: ("low", ("US_SSN",))},
    "not_stored_enterprise": {},
}

TOOL_IDS = {
    "chatgpt-enterprise",
    "copilot-business",
    "claude-enterprise",
    "atlas-internal",
    "perplexity",
    "chatgpt-free",
    "deepseek-chat",
}


def test_every_example_is_in_the_table() -> None:
    assert sorted(EXPECTED) == example_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(policy_engine: EmbeddedEngine, name: str) -> None:
    violations = policy_engine.evaluate(load_example(name))
    got = {v.rule_id: (v.severity, v.entity_types) for v in violations}
    assert got == EXPECTED[name]
    assert len(violations) == len(got), "a rule reported more than one violation"


def test_violation_carries_metadata(policy_engine: EmbeddedEngine) -> None:
    (violation,) = [
        v for v in policy_engine.evaluate(load_example("card_to_copilot")) if v.rule_id == CARD
    ]
    info = {r.rule_id: r for r in policy_engine.rules()}[CARD]
    assert isinstance(violation, Violation)
    assert violation.title == info.title
    assert violation.remediation == info.remediation
    assert violation.references == ("PCI DSS v4.0.1 Req. 4.2.2", "PCI DSS v4.0.1 Req. 3.5.1")
    assert "copilot-business" in violation.message


def test_violations_are_ordered_most_severe_first(policy_engine: EmbeddedEngine) -> None:
    ids = [v.rule_id for v in policy_engine.evaluate(load_example("unregistered_tool"))]
    assert ids == [CARD, NPI, UNAPPROVED]


def test_results_do_not_leak_between_evaluations(policy_engine: EmbeddedEngine) -> None:
    first = policy_engine.evaluate(load_example("card_to_copilot"))
    assert policy_engine.evaluate(load_example("clean_internal")) == []
    assert policy_engine.evaluate(load_example("card_to_copilot")) == first


# --- rule ids are spelled the same everywhere ------------------------------------------------


def _rego_test_text() -> str:
    return "\n".join(p.read_text() for p in POLICY_DIR.rglob("*_test.rego"))


def test_catalogue_is_the_expected_rule_set(policy_engine: EmbeddedEngine) -> None:
    catalogue = {r.rule_id: r.severity for r in policy_engine.rules()}
    assert catalogue == {
        CARD: "critical",
        NPI: "high",
        UNAPPROVED: "high",
        PERSONAL: "high",
        GREY: "low",
    }


def test_rule_ids_match_tests_and_data(policy_engine: EmbeddedEngine) -> None:
    ids = {r.rule_id for r in policy_engine.rules()}
    rego_tests = _rego_test_text()
    thresholds = json.loads((POLICY_DIR / "data" / "thresholds.json").read_text())
    assert set(thresholds) == ids
    assert {rule for rules in EXPECTED.values() for rule in rules} == ids
    for rule_id in ids:
        assert f'"{rule_id}"' in rego_tests, f"{rule_id} is not named in any Rego test"
    # Any id-like string in the Rego tests must be a real rule id (catches misspellings).
    quoted = set(re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+){2,})"', rego_tests))
    assert quoted <= ids | TOOL_IDS


def test_rule_ids_in_rego_metadata_are_literal() -> None:
    """Each rules file names its id once, in `metadata`; everything else refers to it."""
    for path in (POLICY_DIR / "auditor" / "rules").glob("*.rego"):
        if path.name.endswith("_test.rego"):
            continue
        ids = re.findall(r'"id":\s*"([^"]+)"', path.read_text())
        assert len(ids) == 1, path.name
        assert path.read_text().count(f'"{ids[0]}"') == 1, path.name


def test_tool_registry_has_the_demo_tools() -> None:
    tools = json.loads((POLICY_DIR / "data" / "tools.json").read_text())
    assert set(tools) == TOOL_IDS
    for tool_id, tool in tools.items():
        assert tool["approval_status"] in {"approved", "restricted", "pending", "prohibited"}
        assert tool["destination"] in {"internal", "external_contracted", "external_uncontracted"}
        assert isinstance(tool["pci_scope"], bool) and isinstance(tool["npi_contract"], bool)
        assert set(tool["approved_workflows"]) <= KNOWN_WORKFLOWS, tool_id
    assert tools["atlas-internal"]["pci_scope"] is True
    assert set(tools["atlas-internal"]["approved_workflows"]) == KNOWN_WORKFLOWS


def test_workflows_data_matches_the_normalizer() -> None:
    workflows = json.loads((POLICY_DIR / "data" / "workflows.json").read_text())
    assert set(workflows) == KNOWN_WORKFLOWS


def test_no_tool_name_inside_rego() -> None:
    for path in (POLICY_DIR / "auditor").rglob("*.rego"):
        if path.name.endswith("_test.rego"):
            continue
        text = path.read_text()
        for tool_id in TOOL_IDS:
            assert tool_id not in text, f"{tool_id} hard-coded in {path.name}"


# --- revision, engine choice, protocol, speed -------------------------------------------------


def test_revision_is_stable_and_tracks_decision_files(policy_copy: Path) -> None:
    base = load_bundle(policy_copy).revision
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert load_bundle(policy_copy).revision == base

    (policy_copy / "auditor/rules/pci_test.rego").write_text(
        (policy_copy / "auditor/rules/pci_test.rego").read_text() + "\n# a comment\n"
    )
    (policy_copy / "examples/clean_internal.json").write_text("{}")
    assert load_bundle(policy_copy).revision == base, "tests and examples do not decide"

    thresholds = policy_copy / "data/thresholds.json"
    thresholds.write_text(thresholds.read_text().replace("0.7", "0.75"))
    changed = load_bundle(policy_copy).revision
    assert changed != base

    pci = policy_copy / "auditor/rules/pci.rego"
    pci.write_text(pci.read_text() + "\n# a comment\n")
    assert load_bundle(policy_copy).revision not in {base, changed}


def test_build_engine_embedded() -> None:
    engine = build_engine(PolicySettings(engine="embedded", directory=POLICY_DIR))
    assert engine.name == "embedded"
    assert engine.revision == load_bundle(POLICY_DIR).revision
    assert engine.evaluate(load_example("clean_internal")) == []


def test_build_engine_opa_is_not_yet_supported() -> None:
    with pytest.raises(PolicyError, match="not yet supported") as info:
        build_engine(PolicySettings(engine="opa", directory=POLICY_DIR))
    assert info.value.hint == "use engine = embedded"


def test_build_engine_names_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        build_engine(PolicySettings(directory=tmp_path / "missing"))


def _protocol_members() -> list[str]:
    return sorted(
        name
        for name, value in vars(PolicyEngine).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    )


def test_protocol_lists_what_evaluate_sample_uses() -> None:
    assert _protocol_members() == ["evaluate", "name", "revision", "rules", "run_tests"]


def test_embedded_engine_satisfies_the_protocol(policy_engine: EmbeddedEngine) -> None:
    assert isinstance(policy_engine, PolicyEngine)
    for member in _protocol_members():
        declared = getattr(PolicyEngine, member)
        implemented = getattr(EmbeddedEngine, member)
        if isinstance(declared, property):
            assert isinstance(implemented, property), member
            declared, implemented = declared.fget, implemented.fget
        assert inspect.signature(implemented) == inspect.signature(declared), member


def test_protocol_bodies_are_not_implementations() -> None:
    # The protocol declares; a body there would run for a subclass that forgets a method.
    for member in _protocol_members():
        value = getattr(PolicyEngine, member)
        function = value.fget if isinstance(value, property) else value
        source = inspect.getsource(function)
        body = source.split('"""')[-1].strip()
        assert body == "...", member


def test_an_object_without_rules_is_not_an_engine(policy_engine: EmbeddedEngine) -> None:
    class NoRules:
        name = "x"
        revision = "r"

        def evaluate(self, input_doc: object) -> list[Violation]:
            return []

        def run_tests(self) -> list[object]:
            return []

    assert not isinstance(NoRules(), PolicyEngine)


def test_input_that_is_not_json_is_a_policy_error(policy_engine: EmbeddedEngine) -> None:
    doc = load_example("clean_internal")
    doc["interaction"]["occurred_at"] = object()
    with pytest.raises(PolicyError, match="not JSON"):
        policy_engine.evaluate(doc)


def test_evaluation_is_fast(policy_engine: EmbeddedEngine) -> None:
    docs = [load_example(name) for name in example_names()]
    n = 1500
    start = time.perf_counter()
    for i in range(n):
        policy_engine.evaluate(docs[i % len(docs)])
    rate = n / (time.perf_counter() - start)
    assert rate > 1000, f"{rate:.0f} evaluations per second"
