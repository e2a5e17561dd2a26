"""Report at scale: one million interactions and ten thousand findings -> every report format.

    .venv/bin/python benchmarks/report_scale.py [--interactions 1000000] [--findings 10000]

Builds a store the size of a large bank's month directly in SQLite (people, interactions,
tiers, a sample, scan records, decisions, findings with reviews), then times what
`auditor report` does: aggregating the context in SQL and writing the sealed HTML, JSON, CSV
and OCSF files, then the check that skips a rerun whose inputs did not change (no new version
rendered). Prints seconds and sizes, and whether the HTML met the issue's bars (under a
minute, under 10 MB). Building the store is not timed. The evidence section lists the
`report.max_evidence` most severe findings (default 200) and says how many there are; the
CSV, JSON and OCSF files carry the same listing.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from auditor.config import load_settings
from auditor.db.models import (
    Decision,
    Detection,
    Finding,
    Interaction,
    Person,
    ReviewEvent,
    Sample,
    SampleItem,
    ScanRecord,
    SourceFile,
    UsageTier,
)
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.db.trail import GENESIS, event_digest
from auditor.pipeline import render_report, render_report_version

PERIOD = "2026-10"
START = datetime(2026, 10, 1)
DEPARTMENTS = ("Markets", "Wealth", "Retail", "Risk", "Technology", "Operations", "Compliance")
TOOLS = ("chatgpt-enterprise", "copilot-business", "claude-enterprise", "atlas-internal")
RULES = (
    ("card-data-outside-pci-scope", "critical", "CREDIT_CARD"),
    ("mnpi-to-external-ai", "critical", "RESTRICTED_TERM"),
    ("client-npi-to-uncontracted-tool", "high", "CLIENT_NAME"),
    ("unapproved-tool", "high", ""),
    ("workflow-not-approved-for-tool", "medium", ""),
    ("sensitive-data-grey-zone", "low", "PERSON"),
)
TIERS = ("non_user", "light", "regular", "heavy")
CHUNK = 50_000


def _chunks(rows: list[dict[str, Any]]) -> Any:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def build_store(url: str, interactions: int, findings: int, people: int) -> None:
    """Fill a migrated database at `url` with a month of synthetic, text-free records."""
    rng = random.Random(7)
    engine = make_engine(url)
    upgrade(engine)
    now = datetime(2026, 11, 2, 8, 0)
    with session_scope(engine) as s:
        s.add(
            SourceFile(
                id=1,
                path="gateway-2026-10.jsonl",
                sha256="ab" * 32,
                size_bytes=interactions * 900,
                source_format="openai-chat",
                ingested_at=now,
                records_total=interactions,
                records_loaded=interactions,
            )
        )
        users = [f"u{n:06d}" for n in range(people)]
        s.execute(
            insert(Person),
            [
                {
                    "user_id": u,
                    "email": None,
                    "name": f"Person {n}",
                    "department": DEPARTMENTS[n % len(DEPARTMENTS)],
                    "manager_id": users[n // 10] if n >= 10 else None,
                    "region": "EMEA",
                    "attributes": {},
                    "loaded_at": now,
                }
                for n, u in enumerate(users)
            ],
        )
        s.execute(
            insert(UsageTier),
            [
                {
                    "period": PERIOD,
                    "user_id": u,
                    "department": DEPARTMENTS[n % len(DEPARTMENTS)],
                    "tier": TIERS[n % len(TIERS)],
                    "active_days": n % 20,
                    "interactions": n % 200,
                    "department_median": 40.0,
                    "window_start": START + timedelta(days=3),
                    "window_end": START + timedelta(days=31),
                }
                for n, u in enumerate(users)
            ],
        )
        seconds = 31 * 24 * 3600
        rows = [
            {
                "id": i + 1,
                "event_id": f"chatcmpl-{i:09d}",
                "source_format": "openai-chat",
                "source_file_id": 1,
                "source_line": i + 1,
                "occurred_at": START + timedelta(seconds=rng.randrange(seconds)),
                "user_id": users[rng.randrange(people)],
                "tool": TOOLS[i % len(TOOLS)],
                "model": "model-a" if i % 3 else "model-b",
                "workflow": "research",
                "content_status": "present",
                "history_turns": 0,
                "attributes": {},
            }
            for i in range(interactions)
        ]
        for part in _chunks(rows):
            s.execute(insert(Interaction), part)
        del rows

        sample_size = max(findings * 2, 1000)
        sampled = rng.sample(range(1, interactions + 1), min(sample_size, interactions))
        s.add(
            Sample(
                id="S-bench",
                period=PERIOD,
                created_at=now,
                method="simple_random",
                seed="7",
                seed_source="benchmark",
                generator="benchmark",
                population_filter={"period": PERIOD},
                population_count=interactions,
                population_sha256="cd" * 32,
                requested_size=len(sampled),
                size=len(sampled),
                plan={},
                manifest_sha256="ef" * 32,
            )
        )
        s.flush()
        s.execute(
            insert(SampleItem),
            [
                {"sample_id": "S-bench", "draw_order": n + 1, "interaction_id": iid}
                for n, iid in enumerate(sampled)
            ],
        )
        scan_rows = [
            {
                "interaction_id": iid,
                "field": field,
                "scanner_revision": "scan-r1",
                "status": "scanned",
                "chars_scanned": 400,
                "scanned_at": now,
            }
            for iid in sampled
            for field in ("prompt", "output")
        ]
        for part in _chunks(scan_rows):
            s.execute(insert(ScanRecord), part)
        flagged = sampled[:findings]
        decisions, found, detections, reviews = [], [], [], []
        for n, iid in enumerate(flagged):
            rule, severity, entity = RULES[n % len(RULES)]
            fid = hashlib.sha256(f"{iid}:{rule}".encode()).hexdigest()
            decisions.append(
                {
                    "interaction_id": iid,
                    "rule_id": rule,
                    "verdict": "violation",
                    "severity": severity,
                    "title": f"Rule {rule}",
                    "message": f"{rule} on a sampled interaction",
                    "entity_types": [entity] if entity else [],
                    "policy_revision": "pol-r1",
                    "scanner_revision": "scan-r1",
                    "engine": "embedded",
                    "evaluated_at": now,
                }
            )
            if entity:
                detections.append(
                    {
                        "interaction_id": iid,
                        "field": "prompt",
                        "entity_type": entity,
                        "start": 10,
                        "end": 26,
                        "score": 0.9,
                        "recognizer": "bench",
                        "value_hash": fid,
                        "masked_excerpt": f"please check [{entity}] for the desk",
                        "scanner_revision": "scan-r1",
                    }
                )
            found.append(
                {
                    "id": fid,
                    "interaction_id": iid,
                    "rule_id": rule,
                    "entity_type": entity,
                    "value_hash": fid if entity else "",
                    "severity": severity,
                    "title": f"Rule {rule}",
                    "message": f"{rule} on a sampled interaction",
                    "masked_excerpt": f"please check [{entity or 'TOOL'}] for the desk",
                    "status": ("open", "confirmed", "false_positive")[n % 3],
                    "first_seen": now,
                    "last_seen": now,
                }
            )
            if n % 3:
                reviews.append(
                    {
                        "finding_id": fid,
                        "at": now + timedelta(hours=1),
                        "reviewer": "reviewer-1",
                        "disposition": ("confirmed", "false-positive")[n % 3 - 1],
                        "note": "checked with the desk head",
                    }
                )
        passed = [
            {
                "interaction_id": iid,
                "rule_id": "*",
                "verdict": "pass",
                "severity": None,
                "title": "",
                "message": "no rule fired",
                "entity_types": [],
                "policy_revision": "pol-r1",
                "scanner_revision": "scan-r1",
                "engine": "embedded",
                "evaluated_at": now,
            }
            for iid in sampled[findings:]
        ]
        # The review trail is a hash chain (auditor/db/trail.py): bulk inserts bypass the ORM
        # hook that links it, so link it here as the hook would.
        prev = GENESIS
        for review in reviews:
            review["role"] = None
            review["prev_hash"] = prev
            review["event_hash"] = prev = event_digest(
                prev,
                review["finding_id"],
                review["reviewer"],
                None,
                review["disposition"],
                review["note"],
                review["at"],
            )
        for table, data in (
            (Decision, decisions + passed),
            (Detection, detections),
            (Finding, found),
            (ReviewEvent, reviews),
        ):
            for part in _chunks(data):
                s.execute(insert(table), part)
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=65_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'bench.db'}"
        t0 = time.perf_counter()
        build_store(url, args.interactions, args.findings, args.people)
        print(
            f"store: {args.interactions:,} interactions, {args.findings:,} findings, "
            f"{args.people:,} people, built in {time.perf_counter() - t0:.1f} s (not timed)"
        )
        settings = load_settings(
            None,
            data_dir=str(root / ".auditor"),
            database={"url": url},
            scan={"hash_key": "benchmark-key-padded-to-thirty-two-bytes"},
            report={"output_dir": str(root / "reports")},
        )
        engine = make_engine(url)
        rows = []
        for fmt in ("html", "json", "csv", "ocsf"):
            t = time.perf_counter()
            with session_scope(engine) as session:
                path = render_report(session, PERIOD, settings, fmt=fmt)
            rows.append((fmt, time.perf_counter() - t, path.stat().st_size))
        # What a rerun with nothing new costs instead: the period's inputs compared with
        # those of the newest version, and nothing rendered (report/versions.py).
        t = time.perf_counter()
        with session_scope(engine) as session:
            again = render_report_version(session, PERIOD, settings, only_if_changed=True)
        unchanged_seconds = time.perf_counter() - t
        assert again.unchanged, "the store did not change: no new version was due"
        engine.dispose()
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'format':<8}{'seconds':>10}{'size (MB)':>12}")
    for fmt, seconds, size in rows:
        print(f"{fmt:<8}{seconds:>10.1f}{size / 1e6:>12.2f}")
    print(
        f"{'html, unchanged rerun (inputs compared, nothing rendered)'}: {unchanged_seconds:.1f} s"
    )
    html_seconds, html_size = rows[0][1], rows[0][2]
    ok = html_seconds < 60 and html_size < 10_000_000
    print(
        f"HTML report: {html_seconds:.1f} s (bar: < 60 s), {html_size / 1e6:.2f} MB "
        f"(bar: < 10 MB): {'met' if ok else 'NOT met'}; peak RSS {peak_mib:.0f} MiB "
        f"(store building included); generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
