"""JSON, CSV and OCSF writers: complete, schema-valid, owner-only, and free of raw text.

The schema check uses a small validator below for the subset of JSON Schema that
report.schema.json uses (type, properties, required, items, enum, additionalProperties false,
local $ref, anyOf, format date-time): jsonschema is not a dependency.
"""

from __future__ import annotations

import csv
import json
import re
import stat
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Settings
from auditor.db.session import session_scope
from auditor.report.context import ReportContext, build_report_context
from auditor.report.writers import (
    CSV_COLUMNS,
    OCSF_VERSION,
    SCHEMA_VERSION,
    to_json_dict,
    write_findings_csv,
    write_json,
    write_ocsf,
)

GENERATED_AT = datetime(2026, 11, 5, 7, 30, tzinfo=UTC)
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def build(store: Any, pseudonymize: Any, **kw: Any) -> ReportContext:
    with session_scope(store.engine) as session:
        return build_report_context(
            session,
            store.period,
            pseudonymize=pseudonymize,
            settings=Settings(),
            generated_at=GENERATED_AT,
            auditor_version="0.1.0",
            policy_revision="pol-r1",
            scanner_revision="scan-r1",
            **kw,
        )


@pytest.fixture
def ctx(store, pseudonymize) -> ReportContext:
    return build(store, pseudonymize)


def load_schema() -> dict[str, Any]:
    text = resources.files("auditor.report").joinpath("schema/report.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


# --------------------------------------------------------------------------- validator

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def validate(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$"
) -> list[str]:
    """Errors of `value` against `schema` (the subset named in the module docstring)."""
    known = {
        "$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties",
        "required", "additionalProperties", "items", "enum", "anyOf", "format",
    }  # fmt: skip
    unknown = set(schema) - known
    assert not unknown, f"validator does not implement {unknown} (at {path})"
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        return validate(value, root["$defs"][ref.removeprefix("#/$defs/")], root, path)
    if "anyOf" in schema:
        if any(not validate(value, s, root, path) for s in schema["anyOf"]):
            return []
        return [f"{path}: matches no anyOf branch"]
    errors: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: {type(value).__name__} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    if schema.get("format") == "date-time" and isinstance(value, str) and not ISO_Z.match(value):
        errors.append(f"{path}: not ISO 8601 UTC with Z")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{path}: unexpected {k}" for k in value if k not in props]
        for key, sub in props.items():
            if key in value:
                errors += validate(value[key], sub, root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{path}[{i}]")
    return errors


def _schemas(node: Any) -> list[dict[str, Any]]:
    """Every property schema in the document (each must be documented)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                found += value.values()
            found += _schemas(value)
    elif isinstance(node, list):
        for value in node:
            found += _schemas(value)
    return found


@pytest.mark.parametrize(
    ("value", "schema", "ok"),
    [
        (1, {"type": "integer"}, True),
        (True, {"type": "integer"}, False),
        (1.5, {"type": ["number", "null"]}, True),
        ("x", {"type": ["number", "null"]}, False),
        ({"a": 1}, {"type": "object", "required": ["b"]}, False),
        ({"a": 1}, {"type": "object", "additionalProperties": False, "properties": {}}, False),
        ([1, "x"], {"type": "array", "items": {"type": "integer"}}, False),
        ("2", {"type": "string", "enum": ["1"]}, False),
        ("2026-10-01T00:00:00", {"type": "string", "format": "date-time"}, False),
        (None, {"anyOf": [{"type": "string"}, {"type": "null"}]}, True),
    ],
)
def test_the_validator_itself_rejects_what_it_should(value, schema, ok) -> None:
    assert (validate(value, schema, schema) == []) is ok


# --------------------------------------------------------------------------- JSON


def test_json_dict_is_valid_against_the_schema(ctx) -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert validate(to_json_dict(ctx), schema, schema) == []


def test_json_dict_with_no_sample_is_valid_against_the_schema(store, pseudonymize) -> None:
    with session_scope(store.engine) as session:
        from auditor.db.models import PolicyEvaluation, Sample, SampleItem

        session.query(SampleItem).delete()
        session.query(PolicyEvaluation).delete()
        session.query(Sample).delete()
    data = to_json_dict(build(store, pseudonymize))
    schema = load_schema()
    assert data["method"]["manifest"] is None
    assert validate(data, schema, schema) == []


def test_every_schema_property_is_documented() -> None:
    props = _schemas(load_schema())
    assert len(props) > 100
    assert [p for p in props if not p.get("description")] == []


def test_json_dict_holds_the_whole_context(ctx) -> None:
    data = to_json_dict(ctx)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["period"] == ctx.period
    assert data["summary"]["findings_total"] == ctx.summary.findings_total
    assert [f["id"] for f in data["evidence"]["findings"]] == [f.id for f in ctx.evidence.findings]
    manifest = data["method"]["manifest"]
    assert manifest["manifest_sha256"] == "f6" * 32
    assert manifest["created_at"] == "2026-11-02T09:00:00Z"
    assert manifest["population_filter"] == [["period", "2026-10"]]


def test_json_file_round_trips(ctx, tmp_path) -> None:
    path = write_json(ctx, tmp_path / "out")
    assert path.name == "audit-2026-10.json"
    assert json.loads(path.read_text(encoding="utf-8")) == to_json_dict(ctx)


@pytest.mark.parametrize("writer", [write_json, write_findings_csv, write_ocsf])
def test_files_are_owner_only_and_leave_no_temporary_file(ctx, tmp_path, writer) -> None:
    out = tmp_path / "reports"
    path = writer(ctx, out)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in out.iterdir()] == [path.name]
    # Writing again replaces the file in place.
    assert writer(ctx, out) == path
    assert len(list(out.iterdir())) == 1


@pytest.mark.parametrize("writer", [write_json, write_findings_csv, write_ocsf])
def test_no_prompt_text_or_secret_in_any_file(store, ctx, tmp_path, writer) -> None:
    text = writer(ctx, tmp_path).read_text(encoding="utf-8")
    leaked = [i for i, t in enumerate((*store.texts, *store.secrets)) if t in text]
    assert leaked == [], "raw text (indices shown, not the text) reached the file"


@pytest.mark.parametrize(
    ("writer", "name"),
    [
        (write_json, "audit-2026-10-manager-P-1.json"),
        (write_findings_csv, "audit-2026-10-manager-P-1-findings.csv"),
        (write_ocsf, "audit-2026-10-manager-P-1.ocsf.jsonl"),
    ],
)
def test_packet_names_follow_the_html_report(ctx, tmp_path, writer, name) -> None:
    assert writer(ctx, tmp_path, packet="manager-P-1").name == name


def test_writer_on_an_unwritable_target_raises_auditor_error(ctx, tmp_path) -> None:
    from auditor.errors import AuditorError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AuditorError) as info:
        write_json(ctx, blocker / "sub")
    assert info.value.hint


# --------------------------------------------------------------------------- CSV


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_has_the_columns_and_one_row_per_evidence_finding(ctx, tmp_path) -> None:
    path = write_findings_csv(ctx, tmp_path)
    assert path.name == "audit-2026-10-findings.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == CSV_COLUMNS
    rows = read_csv(path)
    assert len(ctx.evidence.findings) >= 3
    assert [r["id"] for r in rows] == [f.id for f in ctx.evidence.findings]
    by_id = {r["id"]: r for r in rows}
    for f in ctx.evidence.findings:
        row = by_id[f.id]
        assert (row["rule_id"], row["severity"], row["status"]) == (f.rule_id, f.severity, f.status)
        assert row["who"] == f.who and row["who"].startswith("P-")
        assert row["occurred_at"] == f.occurred_at.isoformat() + "Z"
        assert row["masked_excerpt"] == (f.masked_excerpt or "")


def test_csv_defuses_spreadsheet_formulas(ctx, tmp_path) -> None:
    from dataclasses import replace

    f = replace(ctx.evidence.findings[0], masked_excerpt="=HYPERLINK(1)", workflow="+x")
    hostile = replace(ctx, evidence=replace(ctx.evidence, findings=(f,)))
    (row,) = read_csv(write_findings_csv(hostile, tmp_path))
    assert row["masked_excerpt"] == "'=HYPERLINK(1)"
    assert row["workflow"] == "'+x"


# --------------------------------------------------------------------------- OCSF

REQUIRED_OCSF = (
    ("class_uid",),
    ("category_uid",),
    ("activity_id",),
    ("type_uid",),
    ("severity_id",),
    ("time",),
    ("metadata", "product", "name"),
    ("metadata", "version"),
    ("finding_info", "uid"),
    ("finding_info", "title"),
)


def read_ocsf(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def dig(event: dict[str, Any], keys: tuple[str, ...]) -> Any:
    node: Any = event
    for key in keys:
        node = node[key]
    return node


@pytest.fixture
def ocsf_events(ctx, tmp_path) -> list[dict[str, Any]]:
    path = write_ocsf(ctx, tmp_path)
    assert path.name == "audit-2026-10.ocsf.jsonl"
    return read_ocsf(path)


@pytest.mark.parametrize("keys", REQUIRED_OCSF, ids=".".join)
def test_every_ocsf_line_has_the_required_attribute(ctx, ocsf_events, keys) -> None:
    assert len(ocsf_events) == len(ctx.evidence.findings) >= 3
    assert all(dig(e, keys) not in (None, "") for e in ocsf_events)


def test_ocsf_fixed_values(ocsf_events) -> None:
    for e in ocsf_events:
        assert (e["class_uid"], e["category_uid"], e["activity_id"], e["type_uid"]) == (
            2004,
            2,
            1,
            200401,
        )
        assert e["metadata"]["version"] == OCSF_VERSION
        assert e["metadata"]["product"]["name"] == "AI-usage auditor"
        assert isinstance(e["time"], int) and e["time"] > 1_700_000_000_000


@pytest.mark.parametrize(
    ("severity", "severity_id"), [("low", 2), ("medium", 3), ("high", 4), ("critical", 5)]
)
def test_ocsf_severity_ids(ctx, ocsf_events, severity, severity_id) -> None:
    by_uid = {e["finding_info"]["uid"]: e for e in ocsf_events}
    for f in ctx.evidence.findings:
        if f.severity == severity:
            assert by_uid[f.id]["severity_id"] == severity_id


@pytest.mark.parametrize(
    ("status", "status_id"),
    [("open", 1), ("confirmed", 2), ("false_positive", 3), ("accepted_risk", 3)],
)
def test_ocsf_status_ids(ctx, ocsf_events, status, status_id) -> None:
    by_uid = {e["finding_info"]["uid"]: e for e in ocsf_events}
    matching = [f for f in ctx.evidence.findings if f.status == status]
    assert matching, f"the fixture has a {status} finding"
    assert {by_uid[f.id]["status_id"] for f in matching} == {status_id}


def test_ocsf_finding_info_and_pseudonymous_actor(ctx, ocsf_events) -> None:
    by_uid = {e["finding_info"]["uid"]: e for e in ocsf_events}
    for f in ctx.evidence.findings:
        e = by_uid[f.id]
        assert e["finding_info"]["types"] == [f.rule_id]
        assert e["finding_info"]["created_time"] == int(
            f.first_seen.replace(tzinfo=UTC).timestamp() * 1000
        )
        assert e["evidences"][0]["actor"]["user"]["uid"] == f.who
        assert f.who.startswith("P-")


def test_ocsf_names_a_reidentified_actor_by_pseudonym_only(store, pseudonymize, tmp_path) -> None:
    ctx = build(store, pseudonymize, reidentify=True)
    events = {e["finding_info"]["uid"]: e for e in read_ocsf(write_ocsf(ctx, tmp_path))}
    named = [f for f in ctx.evidence.findings if not f.who.startswith("P-")]
    assert named, "the fixture re-identifies a confirmed high finding"
    for f in named:
        assert events[f.id]["evidences"][0]["actor"]["user"]["uid"] == f.pseudonym
        assert f.pseudonym.startswith("P-")
        assert f.who not in json.dumps(events[f.id])
        assert "manager" not in events[f.id]["unmapped"]
    for f in ctx.evidence.findings:
        assert events[f.id]["evidences"][0]["actor"]["user"]["uid"] == f.pseudonym
