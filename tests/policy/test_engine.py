"""EmbeddedEngine specifics: rule-id consistency, revision, engine choice, compilation, speed.

The decisions on the example inputs are tested on both engines in test_decisions.py."""

from __future__ import annotations

import inspect
import json
import re
import threading
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
from tests.policy.expected import CARD, EXPECTED, NPI, RULES, TOOL_IDS, UNAPPROVED
from tests.policy.helpers import POLICY_DIR, example_names, load_example


def test_every_example_is_in_the_table() -> None:
    assert sorted(EXPECTED) == example_names()


def test_violation_carries_metadata(policy_engine: EmbeddedEngine) -> None:
    (violation,) = [
        v for v in policy_engine.evaluate(load_example("card_to_copilot")) if v.rule_id == CARD
    ]
    info = {r.rule_id: r for r in policy_engine.rules()}[CARD]
    assert isinstance(violation, Violation)
    assert violation.title == info.title
    assert violation.remediation == info.remediation
    assert violation.references == (
        "PCI DSS v4.0.1 Req. 4.2.2",
        "PCI DSS v4.0.1 Req. 3.5.1",
        "PCI DSS v4.0.1 Req. 3.3.1",
    )
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
    assert catalogue == RULES


def test_rule_ids_match_tests_and_data(policy_engine: EmbeddedEngine) -> None:
    ids = {r.rule_id for r in policy_engine.rules()}
    rego_tests = _rego_test_text()
    thresholds = json.loads((POLICY_DIR / "data" / "thresholds.json").read_text())
    assert set(thresholds) == ids
    assert {rule for rules in EXPECTED.values() for rule in rules} == ids
    for rule_id in ids:
        assert f'"{rule_id}"' in rego_tests, f"{rule_id} is not named in any Rego test"
    # Any id-like string in the Rego tests must be a real rule id (catches misspellings).
    quoted = set(re.findall(r'"([a-z][a-z0-9]*(?:-[a-z0-9]+){2,})"', rego_tests))
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


def test_build_engine_opa_unreachable_names_the_server(loopback: list[str]) -> None:
    # Port 9 on loopback: nothing listens, so the connection is refused at once.
    settings = PolicySettings(engine="opa", directory=POLICY_DIR, opa_url="http://127.0.0.1:9")
    with pytest.raises(PolicyError, match=r"cannot reach OPA server http://127\.0\.0\.1:9"):
        build_engine(settings)


@pytest.mark.parametrize(
    "url", ["ftp://opa:8181", "http://opa:8181/v1", "opa:8181", "http://:8181"]
)
def test_build_engine_opa_refuses_unusable_urls(url: str) -> None:
    with pytest.raises(PolicyError, match="opa_url"):
        build_engine(PolicySettings(engine="opa", directory=POLICY_DIR, opa_url=url))


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
    # A floor well under the benchmark's figure (benchmarks/policy_throughput.py), in CPU
    # time so that a busy machine does not fail it.
    docs = [load_example(name) for name in example_names()]
    n = 3000
    start = time.process_time()
    for i in range(n):
        policy_engine.evaluate(docs[i % len(docs)])
    rate = n / (time.process_time() - start)
    assert rate > 3000, f"{rate:.0f} evaluations per CPU second"


def test_the_pack_compiles(policy_engine: EmbeddedEngine) -> None:
    assert policy_engine.mode == "compiled", policy_engine.compile_note
    assert "agrees with the interpreter" in policy_engine.compile_note


def test_compiled_and_interpreted_agree_on_every_example(policy_engine: EmbeddedEngine) -> None:
    interpreted = EmbeddedEngine(policy_engine.bundle, compiled=False)
    assert interpreted.mode == "interpreted"
    for name in example_names():
        doc = load_example(name)
        assert policy_engine.evaluate(doc) == interpreted.evaluate(doc), name


def test_evaluation_from_another_thread(policy_engine: EmbeddedEngine) -> None:
    # regorus engines must stay on their thread; another thread gets its own, same answers.
    doc = load_example("card_to_copilot")
    want = policy_engine.evaluate(doc)
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(policy_engine.evaluate(doc)))
    worker.start()
    worker.join()
    assert got == [want]


@pytest.mark.parametrize("missing", ["frameworks", "retention", "severity_overrides"])
def test_pack_without_required_data_is_refused(policy_copy: Path, missing: str) -> None:
    (policy_copy / "data" / f"{missing}.json").unlink()
    with pytest.raises(PolicyError, match=f"{missing}.json"):
        load_bundle(policy_copy)


def test_severity_override_reaches_catalogue_and_violations(policy_copy: Path) -> None:
    (policy_copy / "data" / "severity_overrides.json").write_text(
        json.dumps({"workflow-not-approved-for-tool": "high"})
    )
    engine = EmbeddedEngine(load_bundle(policy_copy))
    info = {r.rule_id: r for r in engine.rules()}["workflow-not-approved-for-tool"]
    assert info.severity == "high"
    (violation,) = engine.evaluate(load_example("research_on_copilot"))
    assert violation.severity == "high"
