"""`auditor policy` on OPA's own evaluator, its coverage, bundles, signing keys and the
decision-log export, as a user runs them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from auditor.cli import main
from auditor.config import Settings
from auditor.policy.engine import EmbeddedEngine, load_bundle
from auditor.policy.evaluate import evaluate_sample
from tests.policy.conftest import require_opa_go
from tests.policy.helpers import (
    EXAMPLES_DIR,
    POLICY_DIR,
    add_interaction,
    add_person,
    add_sample,
    add_scan,
)

# The pack's coverage by its own Rego tests, as OPA reports it, must not fall below this.
MIN_COVERAGE = 95.0


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_POLICY__DIRECTORY", str(POLICY_DIR))
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def opa_go() -> None:
    require_opa_go()


def test_policy_test_on_opa_go_passes_every_rego_test(cli, opa_go) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("policy", "test", "--engine", "opa-go")
    assert code == 0, err
    summary = re.search(r"(\d+) passed, 0 failed \(engine opa-go", out)
    assert summary and int(summary.group(1)) >= 100, out


def test_policy_eval_on_opa_go(cli, opa_go) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        "policy",
        "eval",
        "--engine",
        "opa-go",
        "--input",
        str(EXAMPLES_DIR / "card_to_copilot.json"),
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["engine"] == "opa-go"
    assert [v["rule_id"] for v in doc["violations"]] == [
        "card-data-outside-pci-scope",
        "client-npi-to-uncontracted-tool",
    ]


def test_coverage_of_the_pack_holds(cli, opa_go) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("policy", "test", "--coverage")
    assert code == 0, err
    total = re.search(r"^coverage ([\d.]+)% of (\d+) policy lines", out, re.MULTILINE)
    assert total, out
    assert float(total.group(1)) >= MIN_COVERAGE, out
    per_file = re.findall(r"^coverage +([\d.]+)% +\d+/\d+ (\S+)", out, re.MULTILINE)
    files = {path for _pct, path in per_file}
    assert "auditor/lib.rego" in files and "auditor/rules/pci.rego" in files
    assert not any(path.endswith("_test.rego") for path in files)


def test_coverage_names_lines_no_test_reaches(cli, opa_go, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pack = Path(shutil.copytree(POLICY_DIR, tmp_path / "pack"))
    pci = pack / "auditor/rules/pci.rego"
    text = pci.read_text()
    untested = '\ndeny contains v if {\n\tinput.interaction.tool == "no-test-uses-this"\n'
    untested += '\tv := data.auditor.lib.violation(metadata, "never reached", set())\n}\n'
    pci.write_text(text + untested)
    last = len((text + untested).splitlines()) - 1  # the rule's head, condition and `v := …`
    monkeypatch.setenv("AUDITOR_POLICY__DIRECTORY", str(pack))
    code, out, err = cli("policy", "test", "--coverage")
    assert code == 0, err
    line = next(x for x in out.splitlines() if "auditor/rules/pci.rego" in x)
    assert line.endswith(f"(not covered: lines {last - 2},{last - 1},{last})"), line


def test_coverage_needs_opa_go(cli) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli("policy", "test", "--coverage", "--engine", "embedded")
    assert code == 2
    assert "opa-go" in err


def test_keygen_bundle_and_a_signed_source(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "signer.pem"
    code, out, err = cli("policy", "keygen", "--out", str(key), "--kind", "ec")
    assert code == 0, err
    public = tmp_path / "signer.pub.pem"
    assert public.exists() and oct(key.stat().st_mode & 0o777) == "0o600"

    bundle = tmp_path / "pack.tar.gz"
    code, out, err = cli(
        "policy", "bundle", "--out", str(bundle), "--signing-key", str(key), "--key-id", "k1"
    )
    assert code == 0, err
    info = json.loads(out)
    assert info["signed"] is True and ".signatures.json" in info["files"]
    assert ".manifest" in info["files"] and "auditor/lib.rego" in info["files"]

    monkeypatch.setenv("AUDITOR_POLICY__SOURCE", str(bundle))
    monkeypatch.setenv("AUDITOR_POLICY__BUNDLE_PUBLIC_KEY", str(public))
    monkeypatch.setenv("AUDITOR_POLICY__BUNDLE_KEY_ID", "k1")
    example = str(EXAMPLES_DIR / "card_to_copilot.json")
    code, out, err = cli("policy", "eval", "--input", example)
    assert code == 0, err
    assert json.loads(out)["policy_revision"] == info["revision"]

    bundle.write_bytes(bundle.read_bytes()[:-40])  # tampered (truncated) in transit
    code, _out, err = cli("policy", "eval", "--input", example)
    assert code == 1
    assert f"policy bundle {bundle}" in err and len(err.strip().splitlines()) == 1


def test_an_unsigned_source_needs_a_key_or_an_explicit_allowance(
    cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "pack.tar.gz"
    assert cli("policy", "bundle", "--out", str(bundle))[0] == 0
    monkeypatch.setenv("AUDITOR_POLICY__SOURCE", str(bundle))
    example = str(EXAMPLES_DIR / "clean_internal.json")
    code, _out, err = cli("policy", "eval", "--input", example)
    assert code == 1 and "no policy.bundle_public_key" in err
    monkeypatch.setenv("AUDITOR_POLICY__ALLOW_UNSIGNED_BUNDLE", "true")
    code, out, err = cli("policy", "eval", "--input", example)
    assert code == 0, err
    assert json.loads(out)["violations"] == []


def test_decisions_export_after_an_evaluation(cli, tmp_path: Path, session: Session) -> None:  # type: ignore[no-untyped-def]
    add_person(session, "u-1001")
    card = add_interaction(session, "e-card", tool="copilot-business")
    add_scan(session, card, [("CREDIT_CARD", 1.0)])
    clean = add_interaction(session, "e-clean", tool="atlas-internal", workflow="research")
    add_scan(session, clean, [])
    add_sample(session, "s-1", [card, clean])
    evaluate_sample(session, EmbeddedEngine(load_bundle(POLICY_DIR)), "s-1")
    session.commit()

    out = tmp_path / "decisions.jsonl"
    code, stdout, err = cli("policy", "decisions", "--period", "2026-10", "--out", str(out))
    assert code == 0, err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert "2 decision events" in stdout
    assert sorted(len(e["result"]) for e in events) == [0, 2]
    assert all(e["erased"] == ["/input"] and "input" not in e for e in events)


def test_decisions_refuses_another_format(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = cli(
        "policy",
        "decisions",
        "--period",
        "2026-10",
        "--out",
        str(tmp_path / "x"),
        "--format",
        "csv",
    )
    assert code == 2
