"""A small, realistic store for the report tests: one month (2026-10) with neighbours.

Prompt texts are hostile on purpose (markup, template syntax, a card number and a key): the
report must never show any of them. Figures the tests expect are derived by hand from this data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from auditor.config import Settings
from auditor.db.models import (
    Decision,
    Detection,
    Finding,
    IngestRejection,
    Interaction,
    Person,
    PolicyEvaluation,
    ReviewEvent,
    Sample,
    SampleItem,
    ScanRecord,
    SourceFile,
    UsageTier,
)
from auditor.db.session import make_engine, session_scope, upgrade

PERIOD = "2026-10"
CARD = "4111 1111 1111 1111"
API_KEY = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
NOTE = "<b>html</b> looked like a public figure {{ 7*7 }}"

# Every prompt and output text inserted; none may appear in a report.
PROMPTS = {
    "ev-1": "<script>alert(1)</script> please summarise the call with Alice Smith",
    "ev-2": "{{ 7*7 }} compute the duration of this bond",
    "ev-3": f"Charge card {CARD} for the client, key {API_KEY}",
    "ev-6": "Plain question about IFRS 9 staging for Carol",
    "ev-0": "September prompt that belongs to the previous period",
    "ev-7": f"November prompt with card {CARD}",
}
OUTPUTS = {
    "ev-1": "Summary: Alice Smith agreed to the terms <img src=x onerror=alert(2)>",
    "ev-3": f"Done, charged {CARD}",
}


def pseudonymize(user_id: str | None) -> str:
    """A stand-in for the lead's keyed hash: stable, and never the id itself."""
    return "P-" + hashlib.sha256(f"test-key:{user_id}".encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Store:
    """The database and the facts about its content that tests check against.

    Test modules reach these through fixtures, not imports, so they work in any import mode.
    """

    engine: Engine
    finding_ids: dict[str, str]
    period: str = PERIOD
    # Kept out of repr so that a failing test never prints them.
    texts: tuple[str, ...] = field(default=(*PROMPTS.values(), *OUTPUTS.values()), repr=False)
    secrets: tuple[str, ...] = field(default=(CARD, API_KEY, "alert(1)", "onerror"), repr=False)
    note: str = field(default=NOTE, repr=False)


def _fid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def populate(session: Session) -> dict[str, str]:
    """Insert the dataset; return finding names -> ids."""
    t0 = datetime(2026, 11, 2, 8, 0)
    session.add_all(
        [
            Person(
                user_id="u1",
                email="alice@bank.example",
                name="Alice Smith",
                department="Markets",
                manager_id="m1",
                loaded_at=t0,
            ),
            Person(
                user_id="u2",
                email="bob@bank.example",
                name="Bob Jones",
                department="Retail",
                manager_id="m1",
                loaded_at=t0,
            ),
            Person(
                user_id="u3",
                email="carol@bank.example",
                name="Carol White",
                department="Markets",
                manager_id=None,
                loaded_at=t0,
            ),
            Person(
                user_id="m1",
                email="dana@bank.example",
                name="Dana Manager",
                department="Executive",
                loaded_at=t0,
            ),
        ]
    )
    files = {
        "oct": SourceFile(
            path="/var/log/ai/secret-share/chatgpt-2026-10.jsonl",
            sha256="a1" * 32,
            size_bytes=4096,
            source_format="openai_compliance",
            ingested_at=t0,
            records_total=8,
            records_loaded=6,
            records_duplicate=1,
            records_rejected=1,
        ),
        "sep": SourceFile(
            path="/var/log/ai/secret-share/sept.jsonl",
            sha256="b2" * 32,
            size_bytes=1024,
            source_format="litellm",
            ingested_at=t0,
            records_total=3,
            records_loaded=2,
            records_duplicate=0,
            records_rejected=1,
        ),
        "broken": SourceFile(
            path="/var/log/ai/secret-share/broken.csv",
            sha256="c3" * 32,
            size_bytes=99,
            source_format="csv",
            ingested_at=t0,
            records_total=2,
            records_loaded=0,
            records_duplicate=0,
            records_rejected=2,
        ),
    }
    session.add_all(files.values())
    session.flush()
    session.add_all(
        [
            IngestRejection(source_file_id=files["oct"].id, line_no=7, reason="bad timestamp"),
            IngestRejection(source_file_id=files["sep"].id, line_no=2, reason="no user"),
            IngestRejection(source_file_id=files["broken"].id, line_no=1, reason="bad header"),
            IngestRejection(source_file_id=files["broken"].id, line_no=2, reason="bad header"),
        ]
    )

    def interaction(
        ev: str,
        at: datetime,
        user: str,
        tool: str,
        model: str,
        workflow: str | None,
        status: str = "present",
        source: str = "oct",
    ) -> Interaction:
        return Interaction(
            event_id=ev,
            source_format=files[source].source_format,
            source_file_id=files[source].id,
            source_line=1,
            occurred_at=at,
            user_id=user,
            user_email=None,
            tool=tool,
            provider="vendor",
            model=model,
            prompt_text=PROMPTS.get(ev) if status == "present" else None,
            output_text=OUTPUTS.get(ev) if status == "present" else None,
            workflow=workflow,
            content_status=status,
        )

    ia = {
        # The month's edges are included; the neighbours' edges are not.
        "i0": interaction("ev-0", datetime(2026, 9, 30, 23, 59, 59), "u1", "ChatGPT", "gpt-4o",
                          None, source="sep"),
        "i1": interaction("ev-1", datetime(2026, 10, 1, 0, 0, 0), "u1", "ChatGPT", "gpt-4o",
                          "client_comm"),
        "i2": interaction("ev-2", datetime(2026, 10, 5, 9, 30), "u1", "Copilot", "gpt-4.1",
                          "coding"),
        "i3": interaction("ev-3", datetime(2026, 10, 12, 14, 5), "u2", "ChatGPT", "gpt-4o",
                          "client_comm"),
        "i4": interaction("ev-4", datetime(2026, 10, 20, 11, 0), "u2", "ChatGPT", "gpt-4o-mini",
                          "research", status="redacted"),
        "i5": interaction("ev-5", datetime(2026, 10, 31, 23, 59, 59), "u9", "Claude", "claude-3",
                          None, status="not_stored"),
        "i6": interaction("ev-6", datetime(2026, 10, 15, 16, 45), "u3", "Copilot", "gpt-4.1",
                          "research"),
        "i7": interaction("ev-7", datetime(2026, 11, 1, 0, 0, 0), "u1", "ChatGPT", "gpt-4o",
                          None, source="sep"),
    }  # fmt: skip
    session.add_all(ia.values())
    session.flush()
    iid = {k: v.id for k, v in ia.items()}

    common = {
        "method": "simple_random",
        "seed": "123456789",
        "seed_source": "os_entropy",
        "generator": "numpy.random.PCG64",
        "population_filter": {"period": PERIOD},
        "population_count": 6,
        "population_sha256": "d4" * 32,
    }
    session.add_all(
        [
            Sample(
                id="s-old",
                period=PERIOD,
                created_at=datetime(2026, 11, 1, 9, 0),
                requested_size=2,
                size=2,
                manifest_sha256="e5" * 32,
                **common,
            ),
            Sample(
                id="s-new",
                period=PERIOD,
                created_at=datetime(2026, 11, 2, 9, 0),
                requested_size=5,
                size=5,
                manifest_sha256="f6" * 32,
                **common,
            ),
        ]
    )
    session.flush()
    session.add_all(
        [SampleItem(sample_id="s-old", draw_order=i, interaction_id=iid[k])
         for i, k in enumerate(["i6", "i2"], start=1)]
        + [SampleItem(sample_id="s-new", draw_order=i, interaction_id=iid[k], stratum="all")
           for i, k in enumerate(["i3", "i1", "i5", "i2", "i4"], start=1)]
    )  # fmt: skip

    def scan(key: str, field_name: str, status: str) -> ScanRecord:
        return ScanRecord(
            interaction_id=iid[key],
            field=field_name,
            scanner_revision="scan-r1",
            status=status,
            # The scan stage's reason codes: a partial scan says why.
            reason_code={"partial": "timeout", "error": "error", "redacted": "redacted"}.get(
                status
            ),
            chars_scanned=10 if status in ("scanned", "partial") else 0,
            scanned_at=t0,
        )

    session.add_all(
        [
            scan("i1", "prompt", "scanned"),
            scan("i1", "output", "scanned"),
            scan("i2", "prompt", "scanned"),
            scan("i2", "output", "error"),
            scan("i3", "prompt", "scanned"),
            scan("i3", "output", "partial"),
            scan("i4", "prompt", "redacted"),
            scan("i6", "prompt", "scanned"),  # not sampled: never counted
        ]
    )

    def detection(key: str, entity: str, excerpt: str) -> Detection:
        return Detection(
            interaction_id=iid[key],
            field="prompt",
            entity_type=entity,
            start=0,
            end=5,
            score=0.9,
            recognizer="test",
            value_hash=hashlib.sha256(f"{key}{entity}".encode()).hexdigest(),
            masked_excerpt=excerpt,
            scanner_revision="scan-r1",
        )

    session.add_all(
        [
            detection("i1", "PERSON", "call with <PERSON>"),
            detection("i3", "CREDIT_CARD", "Charge card ****-****-****-1111"),
            detection("i3", "CREDIT_CARD", "charged ****-****-****-1111"),
            detection("i6", "PERSON", "staging for <PERSON>"),
        ]
    )

    def decision(key: str, rule: str, verdict: str, severity: str | None) -> Decision:
        return Decision(
            interaction_id=iid[key],
            rule_id=rule,
            verdict=verdict,
            severity=severity,
            # R6 on i2 failed in the engine; R14 on i2 could not see a field.
            message="policy evaluation failed: TimeoutError"
            if (key, rule) == ("i2", "R6")
            else f"{rule} {verdict}",
            entity_types=[],
            policy_revision="pol-r1",
            engine="embedded",
            evaluated_at=t0,
        )

    session.add_all(
        [
            decision("i1", "R6", "violation", "high"),
            decision("i3", "R1", "violation", "critical"),
            decision("i3", "R3", "violation", "high"),
            decision("i2", "R6", "not_evaluated", None),
            decision("i2", "R14", "not_evaluated", None),
            decision("i4", "R14", "violation", "medium"),
            decision("i5", "R4", "violation", "low"),
            decision("i6", "R12", "violation", "medium"),
            decision("i7", "R1", "violation", "critical"),
        ]
    )

    def evaluation(sample: str, rules: int, at: datetime) -> PolicyEvaluation:
        return PolicyEvaluation(
            sample_id=sample,
            policy_revision="pol-r1",
            engine="embedded",
            rule_count=rules,
            interactions=7,
            evaluated_at=at,
        )

    # The newest run of the report's sample counts; another sample's run does not.
    session.add_all(
        [
            evaluation("s-new", 15, datetime(2026, 11, 1)),
            evaluation("s-new", 16, t0),
            evaluation("s-old", 3, datetime(2026, 11, 2)),
        ]
    )

    def finding(name: str, key: str, rule: str, severity: str, status: str, first: datetime,
                entity: str = "", excerpt: str | None = None) -> Finding:  # fmt: skip
        return Finding(
            id=_fid(name),
            interaction_id=iid[key],
            rule_id=rule,
            entity_type=entity,
            value_hash="",
            severity=severity,
            title=f"Rule {rule} title",
            message=f"{rule} broken on a sampled interaction",
            masked_excerpt=excerpt,
            status=status,
            first_seen=first,
            last_seen=first,
        )

    d = datetime(2026, 11, 2)
    findings = {
        "F1": finding("F1", "i3", "R1", "critical", "open", d.replace(hour=10), "CREDIT_CARD",
                      "Charge card ****-****-****-1111 for the client"),
        "F2": finding("F2", "i3", "R3", "high", "confirmed", d.replace(hour=10), "CREDIT_CARD",
                      "Charge card ****-****-****-1111"),
        "F3": finding("F3", "i1", "R6", "high", "false_positive", d.replace(hour=9), "PERSON",
                      "summarise the call with <PERSON>"),
        "F4": finding("F4", "i4", "R14", "medium", "accepted_risk", d.replace(hour=11)),
        "F5": finding("F5", "i6", "R12", "medium", "open", d.replace(hour=12)),
        "F6": finding("F6", "i5", "R4", "low", "open", d.replace(hour=8)),
        "F7": finding("F7", "i7", "R1", "critical", "open", d.replace(hour=8)),
    }  # fmt: skip
    session.add_all(findings.values())
    session.flush()
    session.add_all(
        [
            ReviewEvent(
                finding_id=findings["F3"].id,
                at=datetime(2026, 11, 3, 9, 0),
                reviewer="reviewer-1",
                # Dispositions are spelt as `auditor review` takes them; the status is
                # "false_positive".
                disposition="false-positive",
                note=NOTE,
            ),
            ReviewEvent(
                finding_id=findings["F2"].id,
                at=datetime(2026, 11, 3, 9, 5),
                reviewer="reviewer-2",
                disposition="confirmed",
                note="",
            ),
        ]
    )

    # October's tiers use a 28-day rolling window, September's the calendar month.
    windows = {
        PERIOD: (datetime(2026, 10, 4), datetime(2026, 11, 1)),
        "2026-09": (datetime(2026, 9, 1), datetime(2026, 10, 1)),
    }

    def tier(period: str, user: str, dept: str | None, name: str) -> UsageTier:
        return UsageTier(
            period=period,
            user_id=user,
            department=dept,
            tier=name,
            active_days=3,
            interactions=3,
            department_median=2.0,
            window_start=windows[period][0],
            window_end=windows[period][1],
        )

    session.add_all(
        [
            tier(PERIOD, "u1", "Markets", "heavy"),
            tier(PERIOD, "u2", "Retail", "regular"),
            tier(PERIOD, "u3", "Markets", "light"),
            tier(PERIOD, "m1", "Executive", "non_user"),
            tier(PERIOD, "u9", None, "light"),
            tier("2026-09", "u1", "Markets", "light"),
        ]
    )
    return {name: f.id for name, f in findings.items()}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh migrated SQLite file holding the dataset above."""
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        ids = populate(session)
    yield Store(engine, ids)
    engine.dispose()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture(name="pseudonymize")
def pseudonymize_fixture() -> Callable[[str | None], str]:
    return pseudonymize
