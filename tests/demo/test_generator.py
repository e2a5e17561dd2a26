"""The synthetic bank: deterministic, well-formed, and as varied as the demo needs.

Assertions compare counts, kinds and ids, never prompt text, so a failure prints no content.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.config import REPO_DIR
from auditor.demo import DemoFiles, generate_demo
from auditor.demo.content import (
    LABELLED_SLOTS,
    SLOT,
    TEST_PANS,
    Fakes,
    Slots,
    luhn_ok,
    slot_names,
    valid_ssn,
)
from auditor.demo.people import CSV_HEADER, DEPARTMENT_NAMES, EMAIL_DOMAIN
from auditor.demo.phrases import MACROS, PLAIN
from auditor.demo.prompts import FOLLOW_UPS, TEMPLATES
from auditor.demo.usage import REGION_TZ, TOOLS, working_days
from auditor.errors import AuditorError
from auditor.normalize import KNOWN_WORKFLOWS, RecordError, normalize_openai_chat

PERIOD = "2026-10"


def _read_lines(files: DemoFiles) -> list[tuple[Path, int, bytes]]:
    return [
        (path, n, line)
        for path in files.log_files
        for n, line in enumerate(path.read_bytes().splitlines(), start=1)
    ]


def _parse(line: bytes) -> dict[str, Any] | None:
    """The record on a line, or None if the line is malformed as the ingest would see it."""
    try:
        obj = json.loads(line.decode("utf-8"))
        normalize_openai_chat(obj, source_format="openai-chat")
    except (UnicodeDecodeError, json.JSONDecodeError, RecordError):
        return None
    return obj


def _truth(files: DemoFiles) -> list[dict[str, Any]]:
    return [json.loads(t) for t in files.truth_file.read_text(encoding="utf-8").splitlines()]


def _people(files: DemoFiles) -> list[dict[str, str]]:
    with files.people_csv.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("small"), period=PERIOD, seed=7, people=60)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("full"), period=PERIOD, seed=7, people=300)


@pytest.fixture(scope="module")
def records(small: DemoFiles) -> list[dict[str, Any]]:
    return [r for _, _, line in _read_lines(small) if (r := _parse(line)) is not None]


# -- determinism ----------------------------------------------------------------------------


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate_demo(tmp_path / "a", seed=11, people=60)
    generate_demo(tmp_path / "b", seed=11, people=60)
    a, b = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    generate_demo(tmp_path / "a", seed=11, people=60)
    generate_demo(tmp_path / "b", seed=12, people=60)
    a, b = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert a["people.csv"] != b["people.csv"]
    assert [n for n in a if n.startswith("logs/") and a[n] == b.get(n)] == []


def test_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    # Set iteration order changes with PYTHONHASHSEED; the output must not.
    generate_demo(tmp_path / "here", seed=3, people=40)
    script = (
        "import sys; from pathlib import Path; from auditor.demo import generate_demo; "
        "generate_demo(Path(sys.argv[1]), seed=3, people=40)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "there")], check=True, env=env)
    here, there = _snapshot(tmp_path / "here"), _snapshot(tmp_path / "there")
    assert sorted(here) == sorted(there)
    assert [name for name in here if here[name] != there[name]] == []


def test_faker_global_seed_is_untouched(tmp_path: Path) -> None:
    from faker import Faker

    Faker.seed(1)
    before = Faker("en_US").name()
    Faker.seed(1)
    generate_demo(tmp_path, seed=5, people=20)
    assert Faker("en_US").name() == before


# -- people directory -----------------------------------------------------------------------


def test_people_csv_header_is_exact(small: DemoFiles) -> None:
    first = small.people_csv.read_text(encoding="utf-8").splitlines()[0]
    assert first == ",".join(CSV_HEADER)


@pytest.mark.parametrize("size", [20, 60, 300])
def test_reporting_lines(tmp_path: Path, size: int) -> None:
    rows = _people(generate_demo(tmp_path, people=size))
    by_id = {r["user_id"]: r for r in rows}
    assert len(rows) == len(by_id) == size
    assert all(re.fullmatch(r"u\d{5}", uid) for uid in by_id)
    ceos = [r for r in rows if not r["manager_id"]]
    assert len(ceos) == 1
    ceo = ceos[0]["user_id"]
    heads = [r for r in rows if r["manager_id"] == ceo]
    assert sorted(r["department"] for r in heads) == sorted(DEPARTMENT_NAMES)
    for r in rows:
        if r["user_id"] == ceo or r["manager_id"] == ceo:
            continue
        manager = by_id.get(r["manager_id"])
        assert manager is not None, r["user_id"]
        assert manager["department"] == r["department"], r["user_id"]


def test_department_sizes_and_teams(full: DemoFiles) -> None:
    rows = _people(full)
    sizes = Counter(r["department"] for r in rows)
    assert sizes.most_common(1)[0][0] == "Technology"
    assert set(sizes) == set(DEPARTMENT_NAMES) | {"Executive"}
    ceo = next(r["user_id"] for r in rows if not r["manager_id"])
    heads = {r["user_id"] for r in rows if r["manager_id"] == ceo}
    reports = Counter(r["manager_id"] for r in rows if r["manager_id"])
    managers = [r["user_id"] for r in rows if r["manager_id"] in heads and reports[r["user_id"]]]
    assert len(managers) >= len(heads)
    assert all(5 <= reports[m] <= 10 for m in managers)


def test_people_fields(small: DemoFiles) -> None:
    rows = _people(small)
    assert all(r["email"].endswith("@" + EMAIL_DOMAIN) for r in rows)
    assert len({r["email"] for r in rows}) == len(rows)
    assert {r["region"] for r in rows} <= set(REGION_TZ)
    assert {r["ai_literacy_done"] for r in rows} <= {"true", "false"}
    for r in rows:
        expected = "private" if r["department"] == "Investment Banking" else "public"
        assert r["barrier_side"] == expected, r["user_id"]


# -- log records ----------------------------------------------------------------------------


def test_every_valid_line_normalizes_and_bad_lines_are_where_reported(small: DemoFiles) -> None:
    lines = _read_lines(small)
    bad = [(path, n) for path, n, line in lines if _parse(line) is None]
    assert small.bad_lines == 3
    assert sorted(bad) == sorted(small.bad_line_locations)
    assert len(lines) - len(bad) == small.interactions
    assert len(small.log_files) >= 5


def test_bad_line_kinds(small: DemoFiles) -> None:
    kinds = set()
    for path, n in small.bad_line_locations:
        line = path.read_bytes().splitlines()[n - 1]
        try:
            obj = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            kinds.add("not_utf8")
            continue
        except json.JSONDecodeError:
            kinds.add("truncated")
            continue
        with pytest.raises(RecordError):
            normalize_openai_chat(obj, source_format="openai-chat")
        kinds.add("missing_request" if "request" not in obj else "other")
    assert kinds == {"not_utf8", "truncated", "missing_request"}


def test_no_bad_lines_when_disabled(tmp_path: Path) -> None:
    files = generate_demo(tmp_path, people=40, bad_lines=False)
    assert files.bad_lines == 0 and files.bad_line_locations == []
    assert all(_parse(line) is not None for _, _, line in _read_lines(files))


def test_first_line_of_every_file_is_a_valid_record(small: DemoFiles) -> None:
    for path in small.log_files:
        first = path.read_bytes().split(b"\n", 1)[0]
        assert _parse(first) is not None, path.name


def test_event_ids_are_unique(records: list[dict[str, Any]]) -> None:
    ids = [r["response"]["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("chatcmpl-") for i in ids)


def test_tools_and_workflows_are_known(records: list[dict[str, Any]]) -> None:
    assert {r["tool"] for r in records} <= set(TOOLS)
    assert {r["workflow"] for r in records} <= KNOWN_WORKFLOWS
    registry = json.loads((REPO_DIR / "policies" / "data" / "tools.json").read_text())
    assert set(TOOLS) == set(registry)


def test_prohibited_tools_use_personal_accounts(full: DemoFiles) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for _, _, line in _read_lines(full):
        if (r := _parse(line)) is not None:
            seen[r["tool"]].add(r["account_type"])
    assert set(seen) == set(TOOLS)
    assert seen["chatgpt-free"] == {"personal"} and seen["deepseek-chat"] == {"personal"}
    assert seen["chatgpt-enterprise"] == {"enterprise_sso"}


def test_timestamps_are_working_hours_in_the_period(small: DemoFiles) -> None:
    region = {r["user_id"]: r["region"] for r in _people(small)}
    days = set(working_days(PERIOD))
    for _, _, line in _read_lines(small):
        if (r := _parse(line)) is None:
            continue
        assert r["timestamp"].endswith("Z")
        at = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        local = at.astimezone(REGION_TZ[region[r["user"]["id"]]])
        assert at.date() in days and local.date() == at.date()
        assert 8 <= local.hour <= 18
        assert r["response"]["created"] >= int(at.timestamp())


def test_shapes_vary(records: list[dict[str, Any]]) -> None:
    last = [r["request"]["messages"][-1]["content"] for r in records]
    assert any(isinstance(c, list) for c in last) and any(isinstance(c, str) for c in last)
    turns = Counter(sum(m["role"] == "user" for m in r["request"]["messages"]) for r in records)
    assert turns[1] > 0 and sum(v for k, v in turns.items() if k > 1) > 0
    usage_ok = all(
        r["response"]["usage"]["total_tokens"]
        == r["response"]["usage"]["prompt_tokens"] + r["response"]["usage"]["completion_tokens"]
        for r in records
    )
    assert usage_ok


def test_history_is_the_earlier_turns_of_the_session(records: list[dict[str, Any]]) -> None:
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(records, key=lambda r: r["timestamp"]):
        by_session[r["session_id"]].append(r)
    checked = 0
    for session in by_session.values():
        for before, after in zip(session, session[1:], strict=False):
            prompt = normalize_openai_chat(before, source_format="x").prompt_text
            history = [m["content"] for m in after["request"]["messages"] if m["role"] == "user"]
            resent = prompt in history[:-1]
            assert resent, after["response"]["id"]
            assert after["tool"] == before["tool"] and after["user"]["id"] == before["user"]["id"]
            checked += 1
    assert checked > 0


# -- usage tiers ----------------------------------------------------------------------------


def _active_days(files: DemoFiles) -> list[int]:
    days: dict[str, set[Any]] = defaultdict(set)
    for _, _, line in _read_lines(files):
        if (r := _parse(line)) is not None:
            days[r["user"]["id"]].add(r["timestamp"][:10])
    return [len(days.get(r["user_id"], ())) for r in _people(files)]


def test_tier_mix_at_full_size(full: DemoFiles) -> None:
    active = _active_days(full)
    n = len(active)
    shares = {
        "non_user": sum(a == 0 for a in active) / n,
        "light": sum(1 <= a <= 5 for a in active) / n,
        "regular": sum(6 <= a <= 14 for a in active) / n,
        "heavy": sum(a >= 15 for a in active) / n,
    }
    assert 0.08 <= shares["non_user"] <= 0.25
    assert 0.25 <= shares["light"] <= 0.45
    assert 0.25 <= shares["regular"] <= 0.45
    assert 0.08 <= shares["heavy"] <= 0.25
    assert 2000 <= full.interactions <= 6000


def test_small_demo_still_has_every_tier(small: DemoFiles) -> None:
    active = _active_days(small)
    assert min(active) == 0 and any(1 <= a <= 5 for a in active) and max(active) >= 15


# -- planted content ------------------------------------------------------------------------


def test_sensitive_rate_is_realistic(full: DemoFiles) -> None:
    truth = _truth(full)
    assert len(truth) == full.interactions
    with_pii = [t for t in truth if any(lb["category"] == "pii" for lb in t["labels"])]
    assert 0.10 <= len(with_pii) / len(truth) <= 0.35
    kinds = {lb["kind"] for t in truth for lb in t["labels"] if lb["field"] == "prompt"}
    assert kinds == {LABELLED_SLOTS[s][0] for s in LABELLED_SLOTS}


def test_cards_reach_pci_and_non_pci_tools(small: DemoFiles) -> None:
    tools = {
        t["tool"]
        for t in _truth(small)
        if any(lb["kind"] == "card_number" and lb["field"] == "prompt" for lb in t["labels"])
    }
    assert "atlas-internal" in tools
    assert tools - {"atlas-internal"}


def test_markup_prompts_exist(small: DemoFiles) -> None:
    markup = [t for t in _truth(small) if t["mode"] == "markup"]
    assert len(markup) >= 3


_SHAPES = {
    "card_number": lambda v: luhn_ok(re.sub(r"\D", "", v)) and re.sub(r"\D", "", v) in TEST_PANS,
    "ssn": valid_ssn,
    "email": lambda v: re.fullmatch(r"[a-z0-9._]+@(mail\.)?example\.(com|net|org)", v) is not None,
    "ip_address": lambda v: re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", v) is not None,
    "iban": lambda v: re.fullmatch(r"(GB|DE)\d\d[0-9A-Z ]+", v) is not None,
    "account_number": lambda v: re.fullmatch(r"[1-9]\d{7,11}", v) is not None,
    "phone": lambda v: re.fullmatch(r"[+()\d][\d ().-]{7,}", v) is not None,
    "deal_codename": lambda v: v.startswith("Project "),
    "client_name": lambda v: v == v.strip() and v[:1].isupper(),
    "employee_name": lambda v: v == v.strip() and v[:1].isupper(),
    "address": lambda v: "\n" not in v and any(ch.isdigit() for ch in v),
}


def test_labels_point_at_the_planted_values(small: DemoFiles) -> None:
    by_id = {}
    for _, _, line in _read_lines(small):
        if (r := _parse(line)) is not None:
            by_id[r["response"]["id"]] = normalize_openai_chat(r, source_format="x")
    wrong = []
    for t in _truth(small):
        rec = by_id[t["event_id"]]
        for lb in t["labels"]:
            text = rec.prompt_text if lb["field"] == "prompt" else rec.output_text
            if text is None or not _SHAPES[lb["kind"]](text[lb["start"] : lb["end"]]):
                wrong.append((t["event_id"], lb["kind"], lb["field"]))
    assert wrong == []


def test_truth_file_points_at_log_lines(small: DemoFiles) -> None:
    out = small.people_csv.parent
    for t in _truth(small)[:200]:
        line = (out / t["file"]).read_bytes().splitlines()[t["line"] - 1]
        record = _parse(line)
        assert record is not None and record["response"]["id"] == t["event_id"]


# -- templates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index", range(len(TEMPLATES) + len(FOLLOW_UPS)), ids=lambda i: f"template-{i}"
)
def test_every_template_renders(index: int) -> None:
    import random

    template = (TEMPLATES + FOLLOW_UPS)[index]
    days = working_days(PERIOD)
    for seed in range(5):
        slots = Slots(random.Random(seed), Fakes.seeded(seed), "US", days, PLAIN, MACROS)
        for text in (template.prompt, *template.outputs):
            rendered, labels = slots.render(text, "prompt")
            assert SLOT.search(rendered) is None
            assert all(0 <= lb.start < lb.end <= len(rendered) for lb in labels)


def test_every_slot_is_known() -> None:
    texts = [t.prompt for t in TEMPLATES + FOLLOW_UPS] + [
        o for t in TEMPLATES + FOLLOW_UPS for o in t.outputs
    ]
    names = slot_names(texts, MACROS)
    assert names - set(PLAIN) - set(MACROS) - set(LABELLED_SLOTS) == set()


def test_template_catalogue_is_broad() -> None:
    per_workflow = Counter(w for t in TEMPLATES for w in t.workflows)
    assert set(per_workflow) == KNOWN_WORKFLOWS
    assert min(per_workflow.values()) >= 5
    assert len(TEMPLATES) >= 60
    assert sum(t.markup for t in TEMPLATES) >= 3


# -- arguments and reruns -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"period": "2026-13"}, {"period": "Oct 2026"}, {"people": 5}, {"period": "2026-1"}],
)
def test_bad_arguments_raise(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(AuditorError) as info:
        generate_demo(tmp_path, **kwargs)
    assert info.value.hint


def test_rerun_for_another_period_replaces_log_files(tmp_path: Path) -> None:
    generate_demo(tmp_path, period="2026-10", people=30)
    (tmp_path / "logs" / "keep-me.txt").write_text("not ours")
    files = generate_demo(tmp_path, period="2026-11", people=30)
    names = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert names == sorted([p.name for p in files.log_files] + ["keep-me.txt"])
    assert all("2026-11" in p.name for p in files.log_files)
    first = json.loads(files.log_files[0].read_bytes().split(b"\n", 1)[0])
    assert (
        datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00")).astimezone(UTC).month
        == 11
    )
