"""`generate_demo`: a month of Northbridge Bank's AI use, written as the bank's own files
(a people directory and gateway logs) for `auditor demo` to audit like any firm's.

Nothing in detection reads this module. What it planted is written to a separate ground-truth
file (offsets and kinds, never values), for tests and accuracy benchmarks.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from auditor.demo import logs
from auditor.demo.content import Fakes, Label, Slots
from auditor.demo.people import build_people, write_people_csv
from auditor.demo.phrases import MACROS, PLAIN
from auditor.demo.prompts import FOLLOW_UPS, PREFIXES, SUFFIXES, TEMPLATES, Template
from auditor.demo.reference import LISTED_AS, ClientRegister, write_restricted_list
from auditor.demo.usage import Turn, plan_usage, working_days
from auditor.errors import AuditorError

PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
LOG_FILE_RE = re.compile(r"^(gateway|webproxy)-\d{4}-\d{2}-w\d\.jsonl$")

# Chance that a new conversation's prompt carries client or staff data, by workflow.
PII_RATE = {
    "coding": 0.14,
    "client_comm": 0.33,
    "marketing": 0.0,
    "deal_team": 0.2,
    "research": 0.04,
    "credit_decision": 0.3,
    "hr_eval": 0.5,
    "internal_drafting": 0.1,
}
# Operations handles cards, accounts and payments all day.
PII_FACTOR = {"Operations": 2.4, "Wealth": 1.2}
MARKUP_RATE = 0.004
CARD_WORKFLOWS = ("client_comm", "internal_drafting")
CARD_DEPARTMENTS = ("Operations", "Wealth")


@dataclass(frozen=True)
class DemoFiles:
    """What `generate_demo` wrote.

    `log_files` are the gateway logs to ingest (format `openai-chat`); `interactions` counts
    their valid records and `bad_lines` the malformed lines planted among them, at
    `bad_line_locations` (file, 1-based line). `truth_file` holds, per valid record, the kinds
    and offsets of planted values; it is not a log and must not be ingested.
    """

    people_csv: Path
    log_files: list[Path]
    interactions: int
    period: str
    bad_lines: int
    truth_file: Path
    bad_line_locations: list[tuple[Path, int]]
    client_register: Path | None = None
    restricted_list: Path | None = None


@dataclass(frozen=True)
class _Written:
    turn: Turn
    record: dict[str, Any]
    mode: str
    labels: list[Label]


def _validate(period: str, people: int) -> None:
    if not PERIOD_RE.match(period):
        raise AuditorError(f"period {period!r} is not YYYY-MM", "for example --period 2026-10")
    if people > 20_000:
        raise AuditorError(f"{people} people is more than the demo supports", "use at most 20000")


def _pools(turn: Turn, templates: list[Template]) -> list[Template]:
    p = turn.person
    return [t for t in templates if t.fits(turn.workflow, p.department, p.region)]


def _choose_template(
    rng: random.Random, turn: Turn, mode: str, used: set[str]
) -> tuple[Template, str]:
    if turn.turn > 0:
        follow_ups = _pools(turn, FOLLOW_UPS)
        fresh = [t for t in follow_ups if t.prompt not in used]
        return rng.choice(fresh or follow_ups), "follow_up"
    fitting = _pools(turn, TEMPLATES)
    pools = {
        "clean": [t for t in fitting if not t.planted and not t.markup],
        "pii": [t for t in fitting if t.planted and not t.markup],
        "card": [t for t in fitting if "pan" in t.planted],
        "markup": [t for t in fitting if t.markup],
    }
    if mode == "random":
        rate = PII_RATE[turn.workflow] * PII_FACTOR.get(turn.person.department, 1.0)
        mode = "pii" if rng.random() < rate else "clean"
    if not pools[mode]:
        mode = "clean"
    return rng.choice(pools[mode]), mode


def _forced_modes(rng: random.Random, turns: list[Turn]) -> dict[int, str]:
    """Conversations that must exist in every demo: markup in a few prompts, and card numbers
    sent both to the PCI-scoped internal platform and to tools outside PCI scope."""
    heads = [i for i, t in enumerate(turns) if t.turn == 0]
    forced: dict[int, str] = {}

    def eligible(mode: str, cond: Callable[[Turn], bool]) -> list[int]:
        return [
            i
            for i in heads
            if i not in forced
            and cond(turns[i])
            and any(
                (t.markup if mode == "markup" else "pan" in t.planted)
                for t in _pools(turns[i], TEMPLATES)
            )
        ]

    def card_turn(t: Turn) -> bool:
        return t.person.department in CARD_DEPARTMENTS and t.workflow in CARD_WORKFLOWS

    wanted = (
        ("markup", lambda t: True, max(3, round(MARKUP_RATE * len(heads)))),
        ("card", lambda t: card_turn(t) and t.tool == "atlas-internal", 2),
        ("card", lambda t: card_turn(t) and t.tool != "atlas-internal", 2),
    )
    for mode, cond, count in wanted:
        candidates = eligible(mode, cond)
        for i in rng.sample(candidates, min(count, len(candidates))):
            forced[i] = mode
    return forced


def _compose(
    rng: random.Random,
    fakes: Fakes,
    turn: Turn,
    mode: str,
    days: list[date],
    used: set[str],
    register: ClientRegister | None = None,
) -> tuple[str, str, list[Label], str]:
    """Prompt, output, planted labels and the mode actually used, for one turn."""
    template, mode = _choose_template(rng, turn, mode, used)
    used.add(template.prompt)
    text = template.prompt
    if template.wrap:
        if rng.random() < 0.2:
            prefix = rng.choice(PREFIXES)
            if prefix.endswith(", ") and text[:2].istitle():
                text = text[0].lower() + text[1:]
            text = prefix + text
        if rng.random() < 0.25:
            text = text + rng.choice(SUFFIXES)
    slots = Slots(rng, fakes, turn.person.region, days, PLAIN, MACROS)
    prompt, prompt_labels = slots.render(text, "prompt")
    output, output_labels = slots.render(rng.choice(template.outputs), "output")
    if register is not None:
        register.add(slots.values)
    return prompt, output, prompt_labels + output_labels, mode


def _week(turn: Turn) -> int:
    first = turn.at.date().replace(day=1)
    return (turn.at.day - 1 + first.weekday()) // 7 + 1


def _truth_line(w: _Written, file_name: str, line_no: int) -> str:
    return json.dumps(
        {
            "event_id": w.record["response"]["id"],
            "file": file_name,
            "line": line_no,
            "user_id": w.turn.person.user_id,
            "department": w.turn.person.department,
            "barrier_side": w.turn.person.barrier_side,
            "tool": w.turn.tool,
            "workflow": w.turn.workflow,
            "turn": w.turn.turn,
            "mode": w.mode,
            "labels": [
                {
                    "field": lb.field,
                    "kind": lb.kind,
                    "entity": lb.entity,
                    "category": lb.category,
                    "start": lb.start,
                    "end": lb.end,
                    "listed_as": LISTED_AS.get(lb.kind),
                }
                for lb in w.labels
            ],
        },
        separators=(",", ":"),
    )


def generate_demo(
    out_dir: Path,
    period: str = "2026-10",
    seed: int = 7,
    people: int = 300,
    bad_lines: bool = True,
) -> DemoFiles:
    """Write `people.csv`, weekly gateway logs under `logs/`, `truth/labels.jsonl` and the
    bank's reference lists (`reference/client_register.csv`, `reference/restricted_list.csv`)
    into `out_dir`. The same arguments always give byte-identical files. Log files of an earlier
    run that this run does not write are removed, so `logs/` holds exactly this demo.

    Raises AuditorError for a malformed period or an unsupported number of people.
    """
    _validate(period, people)
    rng = random.Random(seed)
    fakes = Fakes.seeded(seed)
    staff = build_people(rng, fakes.us, people)
    turns = plan_usage(rng, staff, period)
    forced = _forced_modes(rng, turns)
    days = working_days(period)

    used_ids: set[str] = set()
    history: dict[str, list[tuple[str, str]]] = defaultdict(list)
    used_templates: dict[str, set[str]] = defaultdict(set)
    written: list[_Written] = []
    register = ClientRegister()
    for i, turn in enumerate(turns):
        prompt, output, labels, mode = _compose(
            rng,
            fakes,
            turn,
            forced.get(i, "random"),
            days,
            used_templates[turn.session_id],
            register,
        )
        event_id = logs.new_event_id(rng, used_ids)
        record = logs.build_record(rng, turn, event_id, prompt, output, history[turn.session_id])
        history[turn.session_id].append((prompt, output))
        written.append(_Written(turn, record, mode, labels))

    files: dict[str, list[_Written | bytes]] = defaultdict(list)
    for w in written:
        files[f"{logs.gateway_of(w.turn.tool)}-{period}-w{_week(w.turn)}.jsonl"].append(w)

    bad: list[tuple[str, int]] = []
    if bad_lines and len(written) >= 3:
        # Into the web-proxy logs, which the demo ingests as they are (gateway records are
        # re-written in other formats, where a broken JSON line has no equivalent).
        targets = sorted(
            n for n in files if n.startswith("webproxy") and len(files[n]) >= 2
        ) or sorted(n for n in files if len(files[n]) >= 2)
        chosen = rng.sample(targets, min(3, len(targets))) if targets else sorted(files)
        for k, (_, line) in enumerate(logs.bad_lines(rng, [w.record for w in written], used_ids)):
            name = chosen[k % len(chosen)]
            # Never the first line: readers sniff the format from it.
            files[name].insert(rng.randint(1, len(files[name])), line)

    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = out_dir / "logs"
    truth_dir = out_dir / "truth"
    log_dir.mkdir(exist_ok=True)
    truth_dir.mkdir(exist_ok=True)
    for stale in log_dir.iterdir():
        if LOG_FILE_RE.match(stale.name) and stale.name not in files:
            stale.unlink()

    truth: list[str] = []
    log_files: list[Path] = []
    for name in sorted(files):
        chunks: list[bytes] = []
        for line_no, item in enumerate(files[name], start=1):
            if isinstance(item, bytes):
                chunks.append(item)
                bad.append((name, line_no))
            else:
                chunks.append(logs.encode(item.record))
                truth.append(_truth_line(item, f"logs/{name}", line_no))
        path = log_dir / name
        path.write_bytes(b"".join(chunks))
        log_files.append(path)
    truth_file = truth_dir / "labels.jsonl"
    truth_file.write_text("".join(t + "\n" for t in truth), encoding="utf-8")
    people_csv = write_people_csv(staff, out_dir / "people.csv", period)
    reference_dir = out_dir / "reference"
    reference_dir.mkdir(exist_ok=True)
    client_register = register.write(reference_dir / "client_register.csv")
    restricted_list = write_restricted_list(reference_dir / "restricted_list.csv")

    return DemoFiles(
        people_csv=people_csv,
        log_files=log_files,
        interactions=len(written),
        period=period,
        bad_lines=len(bad),
        truth_file=truth_file,
        bad_line_locations=[(log_dir / name, line) for name, line in bad],
        client_register=client_register,
        restricted_list=restricted_list,
    )
