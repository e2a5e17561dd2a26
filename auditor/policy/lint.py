"""Lint the pack for Rego that one engine accepts and another refuses.

A rule (or an import alias) named like the first part of a built-in function shadows that
built-in inside its package on OPA: `internal if …` in `auditor.lib` made OPA compile the `in`
keyword, which it rewrites to the built-in `internal.member_2`, into a call of
`data.auditor.lib.internal.member_2`, and refuse the whole pack, while regorus accepted it.
Every engine refuses such a pack at load (`shadowed_builtins`), naming the file and line.

`OPA_BUILTIN_ROOTS` is the first part of every built-in in OPA v1.20's capabilities; the test
suite checks it against the capabilities compiled into OPA's own evaluator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import regorus

from auditor.errors import PolicyError

OPA_BUILTIN_ROOTS = frozenset(
    {
        "abs", "all", "and", "any", "array", "assign", "base64", "base64url", "bits",
        "cast_array", "cast_boolean", "cast_null", "cast_object", "cast_set", "cast_string",
        "ceil", "concat", "contains", "count", "crypto", "div", "endswith", "eq", "equal",
        "floor", "format_int", "glob", "graph", "graphql", "gt", "gte", "hex", "http",
        "indexof", "indexof_n", "internal", "intersection", "io", "is_array", "is_boolean",
        "is_null", "is_number", "is_object", "is_set", "is_string", "json", "lower", "lt",
        "lte", "max", "min", "minus", "mul", "neq", "net", "numbers", "object", "opa", "or",
        "plus", "print", "product", "providers", "rand", "re_match", "regex", "rego", "rem",
        "replace", "round", "semver", "set_diff", "sort", "split", "sprintf", "startswith",
        "strings", "substring", "sum", "time", "to_number", "trace", "trim", "trim_left",
        "trim_prefix", "trim_right", "trim_space", "trim_suffix", "type_name", "union",
        "units", "upper", "uri", "urlquery", "uuid", "walk", "yaml",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Shadowing:
    """A name in a module that hides an OPA built-in inside its package."""

    path: str
    line: int
    name: str
    kind: str  # "rule" or "import alias"

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.kind} `{self.name}` shadows OPA's built-in "
            f"{self.name}(…)"
        )


def shadowed_builtins(modules: list[tuple[str, str]]) -> list[Shadowing]:
    """Every rule head and import alias in `modules` (path, Rego v1 text) whose name is the
    first part of an OPA built-in. Raises PolicyError if a module does not parse."""
    engine = regorus.Engine()
    engine.set_rego_v0(False)
    for path, text in modules:
        try:
            engine.add_policy(path, text)
        except RuntimeError as exc:
            from auditor.policy.engine import regorus_error

            raise PolicyError(f"policy file {path} does not parse: {regorus_error(exc)}") from None
    found: list[Shadowing] = []
    for module in json.loads(engine.get_ast_as_json()):
        path = module["source"]["file"]
        contents = module["source"]["contents"]
        ast = module["ast"]
        for item in ast.get("imports") or []:
            alias = item.get("as")
            if alias:
                name = contents.encode()[alias["start"] : alias["end"]].decode()
                if name in OPA_BUILTIN_ROOTS:
                    found.append(Shadowing(path, alias["line"], name, "import alias"))
        for rule in ast.get("rules") or []:
            for name, line in _head_names(rule):
                if name in OPA_BUILTIN_ROOTS:
                    found.append(Shadowing(path, line, name, "rule"))
    return sorted(found, key=lambda s: (s.path, s.line, s.name))


def _head_names(rule: dict[str, Any]) -> Iterator[tuple[str, int]]:
    if "Default" in rule:
        yield from _root_var(rule["Default"].get("refr"))
        return
    head = (rule.get("Spec") or {}).get("head") or {}
    for kind in head.values():  # Compr, Func or Set: one key
        yield from _root_var(kind.get("refr"))


def _root_var(ref: Any) -> Iterator[tuple[str, int]]:
    """The first variable of a head reference (`a` of `a.b["c"]`) with its line."""
    while isinstance(ref, dict):
        if "Var" in ref:
            var = ref["Var"]
            yield str(var["value"]), int(var["span"]["line"])
            return
        inner = next(iter(ref.values()), None)
        ref = inner.get("refr") if isinstance(inner, dict) else None
