"""`auditor policy test|eval|rules` as a user runs them, on both engines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import Settings
from tests.policy.conftest import fresh_opa, loopback  # noqa: F401 - fixtures used below
from tests.policy.fake_opa import FakeOpa
from tests.policy.helpers import EXAMPLES_DIR, POLICY_DIR


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_POLICY__DIRECTORY", str(POLICY_DIR))
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_policy_test_passes(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("policy", "test")
    assert code == 0, err
    assert "91 passed, 0 failed (engine embedded" in out or ", 0 failed (engine embedded" in out


def test_policy_test_fails_naming_the_test(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pack = Path(shutil.copytree(POLICY_DIR, tmp_path / "pack"))
    pci = pack / "auditor/rules/pci.rego"
    pci.write_text(
        pci.read_text().replace(
            "not data.auditor.lib.in_pci_scope", "data.auditor.lib.in_pci_scope"
        )
    )
    monkeypatch.setenv("AUDITOR_POLICY__DIRECTORY", str(pack))
    code, _out, err = cli("policy", "test")
    assert code == 1
    assert "FAIL auditor.tests.pci.test_card_to_copilot_is_critical" in err


def test_policy_eval_prints_the_decision(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        "policy", "eval", "--input", str(EXAMPLES_DIR / "agent_execute_unapproved.json")
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["engine"] == "embedded"
    assert len(doc["policy_revision"]) == 64
    assert [v["rule_id"] for v in doc["violations"]] == ["agent-action-without-approval"]


def test_policy_eval_refuses_a_non_object(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "in.json"
    bad.write_text("[1, 2]")
    code, _out, err = cli("policy", "eval", "--input", str(bad))
    assert code == 1 and "JSON object" in err


def test_policy_rules_lists_the_catalogue(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("policy", "rules")
    assert code == 0, err
    catalog = json.loads(out)
    assert catalog["engine"] == "embedded"
    ids = {r["rule_id"] for r in catalog["rules"]}
    assert len(ids) == 15 and "mnpi-to-external-ai" in ids
    assert all(r["frameworks"] for r in catalog["rules"])


def test_unknown_engine_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("policy", "test", "--engine", "wasm")[0] == 2


def test_on_the_opa_engine(cli, fresh_opa: FakeOpa) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    code, out, err = cli("policy", "test", "--engine", "opa", "--opa-url", fresh_opa.url)
    assert code == 0, err
    assert ", 0 failed (engine opa" in out
    code, out, err = cli(
        "policy",
        "eval",
        "--opa-url",
        fresh_opa.url,
        "--input",
        str(EXAMPLES_DIR / "deal_team_to_chatgpt_enterprise.json"),
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["engine"] == "opa"
    assert {v["rule_id"] for v in doc["violations"]} == {
        "mnpi-to-external-ai",
        "workflow-not-approved-for-tool",
    }


def test_unreachable_opa_is_one_line_with_a_hint(cli, loopback) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    code, _out, err = cli("policy", "test", "--opa-url", "http://127.0.0.1:9")
    assert code == 1
    assert "cannot reach OPA server http://127.0.0.1:9" in err
    assert "Traceback" not in err
