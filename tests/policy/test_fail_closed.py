"""Fail closed: an engine error, a time-out or a malformed policy never yields a pass; the
interaction is recorded as not evaluated with the reason, and counted."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.config import PolicySettings
from auditor.db.models import Decision
from auditor.errors import PolicyError
from auditor.policy.engine import (
    SHIPPED_RULE_IDS,
    UNAVAILABLE_REVISION,
    PolicyEngine,
    UnavailableEngine,
    build_engine,
    load_bundle,
)
from auditor.policy.evaluate import EvaluateStats, evaluate_sample
from auditor.policy.opa import (
    DECISION_MODULE,
    POLICY_PREFIX,
    OpaEngine,
    client_for,
    decision_module,
)
from tests.policy.conftest import require_opa_go
from tests.policy.expected import RULES
from tests.policy.fake_opa import FakeOpa
from tests.policy.helpers import (
    POLICY_DIR,
    add_interaction,
    add_sample,
    add_scan,
    load_example,
)

NOW = datetime(2026, 11, 1, 9, 0, 0, tzinfo=UTC)


def _sample(session: Session) -> list[int]:
    rows = []
    for n, tool in enumerate(["atlas-internal", "copilot-business", "chatgpt-free"]):
        row = add_interaction(session, f"e-{n}", tool=tool, workflow="research")
        add_scan(session, row, [])
        rows.append(row)
    add_sample(session, "s-1", rows)
    return [r.id for r in rows]


def _messages(session: Session) -> list[tuple[str, str, str]]:
    return [
        (d.rule_id, d.verdict, d.message)
        for d in session.scalars(select(Decision).order_by(Decision.id))
    ]


def _assert_all_failed(session: Session, engine: PolicyEngine, stats: EvaluateStats, why: str):  # type: ignore[no-untyped-def]
    assert stats == EvaluateStats(items=3, not_evaluated=3, failed=3)
    rows = _messages(session)
    assert len(rows) == 3
    for rule_id, verdict, message in rows:
        assert (rule_id, verdict) == ("*", "not_evaluated")
        assert message.startswith("policy evaluation failed: ")
        assert why in message
    assert {d.engine for d in session.scalars(select(Decision))} == {engine.name}


def test_opa_time_out(session: Session, fresh_opa: FakeOpa) -> None:
    ids = _sample(session)
    engine = OpaEngine(load_bundle(POLICY_DIR), fresh_opa.url, timeout=0.3)
    fresh_opa.delay = 1.0
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "did not answer within 0.3s")
    assert len(ids) == 3


def test_opa_error_status(session: Session, fresh_opa: FakeOpa) -> None:
    _sample(session)
    engine = OpaEngine(load_bundle(POLICY_DIR), fresh_opa.url, timeout=5)
    fresh_opa.fail_queries = 3
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "answered HTTP 500 internal_error")


def test_opa_garbage_answer(session: Session, fresh_opa: FakeOpa) -> None:
    _sample(session)
    engine = OpaEngine(load_bundle(POLICY_DIR), fresh_opa.url, timeout=5)
    fresh_opa.garbage_queries = 3
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "unusable answer")


def test_opa_server_gone_mid_run(session: Session, fresh_opa: FakeOpa) -> None:
    _sample(session)
    engine = OpaEngine(load_bundle(POLICY_DIR), fresh_opa.url, timeout=5)
    fresh_opa.stop()
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "cannot reach OPA server")


def test_a_failure_is_retried_on_the_next_run(session: Session, fresh_opa: FakeOpa) -> None:
    _sample(session)
    engine = OpaEngine(load_bundle(POLICY_DIR), fresh_opa.url, timeout=5)
    fresh_opa.fail_queries = 1
    first = evaluate_sample(session, engine, "s-1", now=NOW)
    assert (first.failed, first.evaluated) == (1, 2)
    again = evaluate_sample(session, engine, "s-1", now=NOW)
    assert (again.failed, again.evaluated, again.skipped_already_done) == (0, 1, 2)
    assert not any(v == "not_evaluated" for _, v, _ in _messages(session))


def test_opa_refuses_a_malformed_module_naming_the_file(
    policy_copy: Path, fresh_opa: FakeOpa
) -> None:
    pci = policy_copy / "auditor/rules/pci.rego"
    pci.write_text(pci.read_text().replace("deny contains v if {", "deny contains v if {{", 1))
    with pytest.raises(PolicyError, match=r"policy file auditor/rules/pci\.rego refused by OPA"):
        OpaEngine(load_bundle(policy_copy), fresh_opa.url, timeout=5)


def test_opa_removes_modules_of_an_earlier_pack(policy_copy: Path, fresh_opa: FakeOpa) -> None:
    extra = policy_copy / "auditor/rules/extra.rego"
    extra.write_text(
        "package auditor.rules.extra\n\nimport data.auditor.lib\n\n"
        'metadata := {"id": "extra-rule", "severity": "low", "title": "t", "description": "d",'
        ' "remediation": "r", "references": ["x"]}\n\n'
        'deny contains v if { v := lib.violation(metadata, "always", set()) }\n'
    )
    old = OpaEngine(load_bundle(policy_copy), fresh_opa.url, timeout=5)
    assert "extra-rule" in {r.rule_id for r in old.rules()}
    assert "auditor-pack/auditor/rules/extra.rego" in fresh_opa.modules
    new = OpaEngine(load_bundle(POLICY_DIR), fresh_opa.url, timeout=5)
    assert "auditor-pack/auditor/rules/extra.rego" not in fresh_opa.modules
    assert "extra-rule" not in {r.rule_id for r in new.rules()}
    assert new.evaluate(load_example("clean_internal")) == []


# --- an engine that cannot be built ----------------------------------------------------------


def test_malformed_pack_fails_closed(session: Session, policy_copy: Path) -> None:
    lib = policy_copy / "auditor/lib.rego"
    lib.write_text(lib.read_text().replace("} else :=", "} else", 1))
    settings = PolicySettings(directory=policy_copy)
    with pytest.raises(PolicyError, match=r"policy file auditor/lib\.rego"):
        build_engine(settings)
    engine = build_engine(settings, fail_closed=True)
    assert isinstance(engine, UnavailableEngine)
    assert engine.revision == load_bundle(policy_copy).revision
    _sample(session)
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "policy file auditor/lib.rego does not parse")


def test_missing_pack_fails_closed(session: Session, tmp_path: Path) -> None:
    engine = build_engine(PolicySettings(directory=tmp_path / "missing"), fail_closed=True)
    assert engine.revision == UNAVAILABLE_REVISION
    assert engine.rules() == []
    with pytest.raises(PolicyError, match="unavailable"):
        engine.run_tests()
    _sample(session)
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "does not exist")


def test_unreachable_opa_fails_closed(session: Session, loopback: list[str]) -> None:
    settings = PolicySettings(engine="opa", directory=POLICY_DIR, opa_url="http://127.0.0.1:9")
    engine = build_engine(settings, fail_closed=True)
    assert isinstance(engine, UnavailableEngine) and engine.name == "opa"
    _sample(session)
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "cannot reach OPA server")


def test_only_loopback_is_opened(loopback: list[str]) -> None:
    import socket

    with pytest.raises(OSError, match="network access attempted"):
        socket.getaddrinfo("example.com", 80)
    with pytest.raises(Exception, match="network access attempted"):
        socket.create_connection(("10.0.0.1", 80))
    assert len(loopback) == 2


def test_a_pack_replaced_on_the_server_fails_closed(session: Session, fresh_opa: FakeOpa) -> None:
    # Another auditor uploads its own revision of the pack to the shared server mid-run.
    _sample(session)
    engine = OpaEngine(load_bundle(POLICY_DIR), fresh_opa.url, timeout=5)
    assert engine.evaluate(load_example("clean_internal")) == []
    other = client_for(fresh_opa.url, timeout=5)
    other.update_policy_from_string(
        decision_module("0" * 64), f"{POLICY_PREFIX}/{DECISION_MODULE}", rego_compat=False
    )
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, f"runs policy pack revision {'0' * 12}")


@pytest.mark.parametrize(
    "url", ["http://opa:abc", "http://127.0.0.1:99999", "http://[::1", "ftp://opa", "http://opa/x"]
)
def test_an_unusable_opa_url_fails_closed(session: Session, url: str) -> None:
    settings = PolicySettings(engine="opa", directory=POLICY_DIR, opa_url=url)
    with pytest.raises(PolicyError, match="policy.opa_url"):
        build_engine(settings)
    engine = build_engine(settings, fail_closed=True)
    assert isinstance(engine, UnavailableEngine)
    _sample(session)
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "policy.opa_url")


# --- case 2 of the hardening issue: a pack that cannot be empty --------------------------


@pytest.mark.parametrize("engine_name", ["embedded", "opa-go"])
def test_case_02_empty_rule_pack_is_refused_not_passed(
    session: Session, policy_copy: Path, engine_name: str
) -> None:
    """With policies/auditor/rules/ gone, every interaction used to be a `pass`, and a card
    number sent to a prohibited tool produced no finding."""
    if engine_name == "opa-go":
        require_opa_go()
    shutil.rmtree(policy_copy / "auditor/rules")
    settings = PolicySettings(engine=engine_name, directory=policy_copy)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="defines no rules"):
        build_engine(settings)
    engine = build_engine(settings, fail_closed=True)
    assert isinstance(engine, UnavailableEngine)
    _sample(session)
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "defines no rules")


def test_a_pack_missing_a_required_rule_is_refused(session: Session, policy_copy: Path) -> None:
    (policy_copy / "auditor/rules/pci.rego").unlink()
    (policy_copy / "auditor/rules/pci_test.rego").unlink()
    settings = PolicySettings(directory=policy_copy)
    with pytest.raises(PolicyError, match="lacks 1 required rule.*card-data-outside-pci-scope"):
        build_engine(settings)
    _sample(session)
    engine = build_engine(settings, fail_closed=True)
    stats = evaluate_sample(session, engine, "s-1", now=NOW)
    _assert_all_failed(session, engine, stats, "card-data-outside-pci-scope")


def test_required_rules_are_configurable(policy_copy: Path) -> None:
    (policy_copy / "auditor/rules/pci.rego").unlink()
    (policy_copy / "auditor/rules/pci_test.rego").unlink()
    # A firm's own pack names its own required rules; an unknown one is still refused.
    kept = sorted(SHIPPED_RULE_IDS - {"card-data-outside-pci-scope"})
    assert {
        r.rule_id
        for r in build_engine(PolicySettings(directory=policy_copy, required_rules=kept)).rules()
    } == set(kept)
    with pytest.raises(PolicyError, match="firm-own-rule"):
        build_engine(PolicySettings(directory=policy_copy, required_rules=["firm-own-rule"]))


def test_shipped_rule_ids_are_the_shipped_pack() -> None:
    assert set(RULES) == SHIPPED_RULE_IDS
    assert {r.rule_id for r in build_engine(PolicySettings(directory=POLICY_DIR)).rules()} == set(
        RULES
    )


def test_a_bundle_key_id_without_a_public_key_is_refused(tmp_path: Path) -> None:
    """A key id that nothing checks would look like a control that is not there."""
    settings = PolicySettings(
        source=tmp_path / "pack.tar.gz", bundle_key_id="k1", allow_unsigned_bundle=True
    )
    with pytest.raises(PolicyError, match="bundle_key_id is set but no"):
        build_engine(settings)
