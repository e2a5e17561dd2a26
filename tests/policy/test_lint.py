"""Names that shadow OPA built-ins are refused by every engine, naming the file and line; the
shipped pack has none; the list of built-ins agrees with OPA's own capabilities."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from auditor.errors import PolicyError
from auditor.policy import opa_go
from auditor.policy.engine import EmbeddedEngine, load_bundle
from auditor.policy.lint import OPA_BUILTIN_ROOTS, shadowed_builtins
from auditor.policy.opa_go import OpaGoEngine
from tests.policy.conftest import require_opa_go
from tests.policy.helpers import POLICY_DIR


@pytest.mark.parametrize(
    ("rego", "line", "name", "kind"),
    [
        ("internal if true", 3, "internal", "rule"),
        ("json(x) := x", 3, "json", "rule"),
        ("default object := {}", 3, "object", "rule"),
        ("print contains 1", 3, "print", "rule"),
        ('time["now"] := 1', 3, "time", "rule"),
        ("floor := 183", 3, "floor", "rule"),
    ],
)
def test_a_rule_named_like_a_builtin_is_found(rego: str, line: int, name: str, kind: str) -> None:
    found = shadowed_builtins([("x/a.rego", f"package x.a\n\n{rego}\n")])
    assert [(f.path, f.line, f.name, f.kind) for f in found] == [("x/a.rego", line, name, kind)]


def test_an_import_alias_named_like_a_builtin_is_found() -> None:
    found = shadowed_builtins([("a.rego", "package a\n\nimport data.b as strings\n\nx := 1\n")])
    assert [(f.line, f.name, f.kind) for f in found] == [(3, "strings", "import alias")]


@pytest.mark.parametrize("rego", ["internal_destination if true", "day := 1", "detected(t) := t"])
def test_other_names_pass(rego: str) -> None:
    assert shadowed_builtins([("a.rego", f"package a\n\n{rego}\n")]) == []


def test_the_shipped_pack_shadows_nothing() -> None:
    modules = [(m.path, m.text) for m in load_bundle(POLICY_DIR).modules]
    assert shadowed_builtins(modules) == []


def test_every_engine_refuses_a_pack_that_shadows(policy_copy: Path) -> None:
    """The defect that kept the pack off OPA: a rule `internal` in auditor.lib shadows the
    built-in internal.member_2 that OPA compiles `in` to. regorus would accept it; the load
    check refuses it there too, naming the file and line."""
    lib = policy_copy / "auditor/lib.rego"
    lib.write_text(lib.read_text().replace("internal_destination if", "internal if"))
    for rules in (policy_copy / "auditor/rules").glob("*.rego"):
        rules.write_text(rules.read_text().replace("lib.internal_destination", "lib.internal"))
    with pytest.raises(PolicyError, match=r"auditor/lib\.rego:\d+: rule `internal` shadows"):
        EmbeddedEngine(load_bundle(policy_copy))


def test_opa_itself_refuses_that_pack(policy_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_opa_go()
    lib = policy_copy / "auditor/lib.rego"
    # A membership test (`x in y`) in the package is what OPA rewrites to internal.member_2.
    text = lib.read_text().replace("internal_destination if", "internal if")
    lib.write_text(text + '\nuses_membership if "a" in {"a"}\n')
    for rules in (policy_copy / "auditor/rules").glob("*.rego"):
        rules.write_text(rules.read_text().replace("lib.internal_destination", "lib.internal"))
    # Without our own lint, OPA's compiler is what refuses it.
    monkeypatch.setattr("auditor.policy.engine.shadowed_builtins", lambda modules: [])
    with pytest.raises(PolicyError, match=r"refused by OPA: .*internal\.member_2"):
        OpaGoEngine(load_bundle(policy_copy))


def test_builtin_roots_cover_opas_own_capabilities() -> None:
    """OPA's evaluator embeds its capabilities documents (one per release); every built-in
    they name must have its first part in OPA_BUILTIN_ROOTS."""
    require_opa_go()
    import opa_bindings

    library = Path(opa_bindings.__file__).parent / "libopabridge.so"
    blob = library.read_bytes().decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    names: set[str] = set()
    for match in re.finditer(r'\{\s*"builtins"\s*:\s*\[', blob):
        capabilities, _end = decoder.raw_decode(blob, match.start())
        names.update(b["name"] for b in capabilities["builtins"])
    assert len(names) > 150, "no capabilities found in the OPA library"
    roots = {name.split(".")[0] for name in names}
    assert roots <= OPA_BUILTIN_ROOTS, sorted(roots - OPA_BUILTIN_ROOTS)
    assert opa_go.opa_version() == opa_go.OPA_VERSION


def test_rules_packages_do_not_import_lib_whole() -> None:
    """regorus' compiled program evaluates a whole imported package for every reference
    through it; the rules name helpers by their full path instead (policies/README.md)."""
    offenders = [
        m.path
        for m in load_bundle(POLICY_DIR).modules
        if not m.is_test and re.search(r"^import data\.auditor\.lib\s*$", m.text, re.MULTILINE)
    ]
    assert offenders == []


def test_no_negated_call_on_a_value_that_may_be_undefined() -> None:
    """OPA evaluates `not is_string(input.x)` as undefined (not true) when input.x is missing,
    regorus as true: the differential tests found the literacy and retention rules deciding
    differently. Read such values through a lib helper with an `else` instead."""
    pattern = re.compile(r"^\s*not [a-z_.]+\((input|data)\.", re.MULTILINE)
    offenders = [
        f"{m.path}: {hit.group(0).strip()}"
        for m in load_bundle(POLICY_DIR).modules
        if not m.is_test
        for hit in pattern.finditer(m.text)
    ]
    assert offenders == []
