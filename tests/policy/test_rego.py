"""The Rego test suite, run through EmbeddedEngine.run_tests, and the runner's own failures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.errors import PolicyError
from auditor.policy.engine import EmbeddedEngine, RegoTestResult, load_bundle
from tests.policy.helpers import POLICY_DIR


def _declared_tests() -> list[tuple[str, str]]:
    """(package, test name) for every test_* rule in the policy directory, by reading files."""
    found = []
    for path in sorted(POLICY_DIR.rglob("*_test.rego")):
        text = path.read_text()
        package = re.search(r"^package\s+(\S+)", text, re.MULTILINE)
        assert package, f"{path} has no package line"
        for name in dict.fromkeys(re.findall(r"^(test_\w+)", text, re.MULTILINE)):
            found.append((package.group(1), name))
    return found


DECLARED = _declared_tests()


@pytest.fixture(scope="module")
def results(policy_engine: EmbeddedEngine) -> dict[tuple[str, str], RegoTestResult]:
    return {(r.package, r.name): r for r in policy_engine.run_tests()}


def test_runner_finds_every_declared_test(results: dict[tuple[str, str], RegoTestResult]) -> None:
    assert sorted(results) == sorted(DECLARED)
    assert len(DECLARED) >= 80


@pytest.mark.parametrize(("package", "name"), DECLARED, ids=[f"{p}.{n}" for p, n in DECLARED])
def test_rego(results: dict[tuple[str, str], RegoTestResult], package: str, name: str) -> None:
    result = results[(package, name)]
    assert result.passed, result.message


def test_every_rules_package_has_tests() -> None:
    tested = {pkg.rsplit(".", 1)[1] for pkg, _name in DECLARED}
    rules = {p.stem for p in (POLICY_DIR / "auditor" / "rules").glob("*.rego")}
    assert {r for r in rules if not r.endswith("_test")} <= tested


def _rule_ids_by_file() -> dict[str, str]:
    ids = {}
    for path in (POLICY_DIR / "auditor" / "rules").glob("*.rego"):
        if not path.name.endswith("_test.rego"):
            (rule_id,) = re.findall(r'"id":\s*"([^"]+)"', path.read_text())
            ids[path.stem] = rule_id
    return ids


@pytest.mark.parametrize(("stem", "rule_id"), sorted(_rule_ids_by_file().items()))
def test_every_rule_has_a_violating_and_a_clean_rego_test(
    results: dict[tuple[str, str], RegoTestResult], stem: str, rule_id: str
) -> None:
    """The issue's bar: each rule has at least one test that it fires and one that it does
    not (named *_fires/*_is_* and *_passes), all passing."""
    text = (POLICY_DIR / "auditor" / "rules" / f"{stem}_test.rego").read_text()
    names = list(dict.fromkeys(re.findall(r"^(test_\w+)", text, re.MULTILINE)))
    violating = [n for n in names if re.search(r"_(fires|is_critical|is_high|is_low|is_one)", n)]
    clean = [n for n in names if n.endswith("_passes") or "_pass" in n]
    assert violating and clean, f"{rule_id}: violating {violating}, clean {clean}"
    assert f'"{rule_id}"' in text or rule_id in text
    package = f"auditor.tests.{stem}"
    for name in violating + clean:
        assert results[(package, name)].passed, name


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}: the test no longer breaks anything"
    path.write_text(text.replace(old, new, 1))


# (file to edit, text, replacement, a test that must then fail)
BREAKS = [
    pytest.param(
        "auditor/lib.rego",
        "score(d) >= min_score",
        "score(d) < min_score",
        ("auditor.tests.pci", "test_card_to_copilot_is_critical"),
        id="threshold-comparison-flipped-in-lib",
    ),
    pytest.param(
        "auditor/rules/pci.rego",
        "not data.auditor.lib.in_pci_scope",
        "data.auditor.lib.in_pci_scope",
        ("auditor.tests.pci", "test_card_to_copilot_is_critical"),
        id="scope-check-inverted",
    ),
    pytest.param(
        "data/tools.json",
        '"approval_status": "prohibited"',
        '"approval_status": "approved"',
        ("auditor.tests.main", "test_examples_give_expected_rules"),
        id="prohibited-tool-approved-in-data",
    ),
    pytest.param(
        "auditor/rules/npi.rego",
        '"critical" if',
        '"high" if',
        ("auditor.tests.npi", "test_many_identifiers_escalate_to_critical"),
        id="escalation-removed",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "must_fail"), BREAKS)
def test_a_broken_policy_fails_its_tests(
    policy_copy: Path, file: str, old: str, new: str, must_fail: tuple[str, str]
) -> None:
    _replace(policy_copy / file, old, new)
    results = {(r.package, r.name): r for r in EmbeddedEngine(load_bundle(policy_copy)).run_tests()}
    assert not results[must_fail].passed
    assert results[must_fail].message.startswith("failed")


def test_a_test_that_errors_is_reported_not_raised(policy_copy: Path) -> None:
    (policy_copy / "auditor" / "broken_test.rego").write_text(
        "package auditor.tests.broken\n\ntest_divides_by_zero if {\n\t1 / 0 == 1\n}\n"
    )
    results = EmbeddedEngine(load_bundle(policy_copy)).run_tests()
    (broken,) = [r for r in results if r.package == "auditor.tests.broken"]
    assert not broken.passed
    assert broken.message.startswith("error: auditor/broken_test.rego:4:")
    assert "Stack backtrace" not in broken.message
    assert sum(not r.passed for r in results) == 1


MALFORMED = [
    pytest.param(
        "auditor/rules/pci.rego", "deny contains v if {", "deny contains v if {{", id="pci"
    ),
    pytest.param("auditor/main.rego", "violations contains v if", "violations contains", id="main"),
    pytest.param("auditor/lib.rego", "} else :=", "} else", id="lib"),
]


@pytest.mark.parametrize(("file", "old", "new"), MALFORMED)
def test_a_malformed_policy_names_the_file(
    policy_copy: Path, file: str, old: str, new: str
) -> None:
    _replace(policy_copy / file, old, new)
    with pytest.raises(PolicyError) as info:
        EmbeddedEngine(load_bundle(policy_copy))
    assert f"policy file {file}" in str(info.value)
    assert "Stack backtrace" not in str(info.value)


def test_a_malformed_test_file_fails_run_tests_naming_it(policy_copy: Path) -> None:
    _replace(policy_copy / "auditor/rules/npi_test.rego", "if {", "if {{")
    engine = EmbeddedEngine(load_bundle(policy_copy))  # evaluation does not load tests
    with pytest.raises(PolicyError, match=r"policy file auditor/rules/npi_test\.rego"):
        engine.run_tests()


def test_a_rule_that_errors_at_evaluation_fails_at_load(policy_copy: Path) -> None:
    _replace(
        policy_copy / "auditor/rules/tools.rego",
        "not data.auditor.lib.registered",
        "data.auditor.lib.no_such(1)",
    )
    with pytest.raises(PolicyError, match=r"auditor/rules/tools\.rego:\d+:\d+"):
        EmbeddedEngine(load_bundle(policy_copy))


def test_invalid_data_json_names_the_file(policy_copy: Path) -> None:
    (policy_copy / "data" / "tools.json").write_text('{"chatgpt-enterprise": ')
    with pytest.raises(PolicyError, match=r"data/tools\.json is not valid JSON"):
        load_bundle(policy_copy)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist") as info:
        load_bundle(tmp_path / "nowhere")
    assert info.value.hint


def test_directory_without_policies(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"holds no \.rego policies"):
        load_bundle(tmp_path)


def test_duplicate_rule_id_is_refused(policy_copy: Path) -> None:
    _replace(
        policy_copy / "auditor/rules/accounts.rego",
        '"id": "personal-account-for-business"',
        '"id": "unapproved-tool"',
    )
    with pytest.raises(PolicyError, match="unapproved-tool"):
        EmbeddedEngine(load_bundle(policy_copy))


def test_rules_package_without_metadata_is_refused(policy_copy: Path) -> None:
    (policy_copy / "auditor/rules/extra.rego").write_text(
        "package auditor.rules.extra\n\ndeny contains {} if false\n"
    )
    with pytest.raises(PolicyError, match="metadata"):
        EmbeddedEngine(load_bundle(policy_copy))


def test_malformed_violation_is_refused(policy_copy: Path) -> None:
    _replace(policy_copy / "auditor/lib.rego", '"entity_types": sort(entity_types),', "")
    # The load-time check on an empty input already meets unapproved-tool's violation.
    with pytest.raises(PolicyError, match="unapproved-tool returned a malformed violation"):
        EmbeddedEngine(load_bundle(policy_copy))
