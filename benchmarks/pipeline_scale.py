"""A bank's month at scale, stage by stage, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/pipeline_scale.py [--interactions 1000000] [--people 65000]
        [--database sqlite|postgresql|both] [--postgres-url URL] [--workers 2] [--keep DIR]

Writes a people directory of N people (departments, a management line) and a month of their AI
use as gateway logs, half OpenTelemetry (OTLP/JSON) and half LiteLLM spend-log CSV exports, one
file per day and format, through the demo's own format writers. Then, into a fresh database of
each kind, it runs the auditor's stages as the CLI runs them, each in its own process:
`db upgrade`, `directory load`, `ingest`, `tiers`, `sample draw`, `scan`, `evaluate`, `report`,
and prints each stage's wall time and the process's peak RSS (from `wait4`), and the database's
size at the end (SQLite: the file; PostgreSQL: `pg_database_size`). Generating the logs is not
timed. PostgreSQL: a database with a unique name is created on the server of --postgres-url
(default: the test suite's) and dropped afterwards.

Prompts are assembled from a fixed vocabulary with, in about one in forty, a card number, an
e-mail address or a client's name, so the sample's scan and the policies have something to
find; the sample is sized by the plan (as `auditor run` does), so the scan covers a few hundred
interactions whatever the month's size.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.demo.people import CSV_HEADER, DEPARTMENT_NAMES
from auditor.demo.usage import APPROVED_TOOLS, DEPARTMENT_WORKFLOWS
from auditor.demo.writers import litellm as litellm_writer
from auditor.demo.writers import otel as otel_writer

PERIOD = "2026-10"
DAYS = 31
SENTENCES = (
    "please summarise the attached quarterly note for the desk and flag any risks to liquidity "
    "draft a polite reply to the client about the delayed settlement explain this stack trace "
    "from our pricing service write a sql query joining trades to positions by book review the "
    "onboarding checklist compare the two term sheets and list the covenants that differ"
)
WORDS = SENTENCES.split()
SURNAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Haddad", "Novak", "Ferreira", "Kowalski")
CARDS = ("4539 1488 0343 6467", "5425 2334 3010 9903", "3714 496353 98431")


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    output: str


def write_people(path: Path, n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """n people in a tree ten wide; returns (user_id, email, department) per person."""
    people: list[tuple[str, str, str]] = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for i in range(n):
            uid = f"E{i:06d}"
            email = f"e{i:06d}@bank.example"
            dept = DEPARTMENT_NAMES[i % len(DEPARTMENT_NAMES)]
            manager = f"E{(i - 1) // 10:06d}" if i else ""
            row = {
                "user_id": uid,
                "email": email,
                "name": f"Employee {i} {rng.choice(SURNAMES)}",
                "department": dept,
                "manager_id": manager,
                "region": rng.choice(("EMEA", "AMER", "APAC")),
                "title": "Analyst",
                "barrier_side": "public",
                "ai_literacy_done": "true",
                "ai_literacy_completed_on": "2026-03-01",
            }
            writer.writerow([row.get(c, "") for c in CSV_HEADER])
            people.append((uid, email, dept))
    return people


def _prompt(rng: random.Random) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.choice((8, 24, 60))))
    roll = rng.random()
    if roll < 0.008:
        text += f" the client paid with card {rng.choice(CARDS)} yesterday"
    elif roll < 0.016:
        text += f" reply to j.{rng.choice(SURNAMES).lower()}@client-mail.example"
    elif roll < 0.025:
        text += f" notes from the call with Maria {rng.choice(SURNAMES)} about her mortgage"
    return text


def _records(
    rng: random.Random, people: list[tuple[str, str, str]], day: int, n: int, offset: int
) -> list[dict[str, Any]]:
    start = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=day)
    out: list[dict[str, Any]] = []
    for k in range(n):
        uid, email, dept = people[rng.randrange(len(people))]
        workflows = DEPARTMENT_WORKFLOWS.get(dept) or {"research": 1.0}
        workflow = rng.choices(list(workflows), weights=list(workflows.values()))[0]
        tool = rng.choice(APPROVED_TOOLS)
        at = start + timedelta(seconds=rng.randrange(86_400))
        prompt = _prompt(rng)
        out.append(
            {
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "user": {"id": uid, "email": email},
                "tool": tool,
                "account_type": "enterprise",
                "workflow": workflow,
                "session_id": f"s-{offset + k:09d}",
                "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]},
                "response": {
                    "id": f"chatcmpl-{offset + k:010d}",
                    "object": "chat.completion",
                    "created": int(at.timestamp()) + 3,
                    "model": "gpt-4o-2024-08-06",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Done: " + prompt[:80]},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 60, "completion_tokens": 20, "total_tokens": 80},
                },
            }
        )
    return out


def write_month(folder: Path, people: list[tuple[str, str, str]], total: int) -> int:
    """One OTel and one LiteLLM file per day; returns the number of interactions written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    written = 0
    for day in range(DAYS):
        per_day = total // DAYS + (1 if day < total % DAYS else 0)
        half = per_day // 2
        otel = _records(rng, people, day, half, written)
        written += otel_writer.write(otel, folder / f"otel-{PERIOD}-{day + 1:02d}.jsonl")
        lite = _records(rng, people, day, per_day - half, written)
        written += litellm_writer.write(lite, folder / f"litellm-{PERIOD}-{day + 1:02d}.csv")
    return written


PEAK_WRAPPER = """
import resource, sys
from auditor.cli import main
code = main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"__peak_rss_mb__ {peak:.1f}", flush=True)
sys.exit(code)
"""


def _peak_of(output: str) -> float:
    m = re.search(r"__peak_rss_mb__ ([0-9.]+)", output)
    return float(m.group(1)) if m else float("nan")


def run_cli(name: str, args: list[str], env: dict[str, str]) -> Stage:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_WRAPPER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        raise SystemExit(f"stage {name} failed with exit {proc.returncode}:\n{proc.stdout[-4000:]}")
    return Stage(name, seconds, _peak_of(proc.stdout), proc.stdout)


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"auditor_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_size(url: str, sqlite_file: Path | None) -> int:
    if sqlite_file is not None:
        return sum(p.stat().st_size for p in sqlite_file.parent.glob(sqlite_file.name + "*"))
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size)


def stored_interactions(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM interactions")).scalar_one()
    engine.dispose()
    return int(n)


def audit(
    backend: str, url: str, work: Path, people_csv: Path, logs: Path, workers: int, expected: int
) -> list[Stage]:
    config = work / f"auditor-{backend}.toml"
    data_dir = work / f"data-{backend}"
    reports = work / f"reports-{backend}"
    config.write_text(
        f'data_dir = "{data_dir}"\n\n[database]\nurl = "{url}"\n\n'
        f'[report]\noutput_dir = "{reports}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "AUDITOR_CONFIG": str(config), "NO_COLOR": "1"}
    stages: list[Stage] = []

    def stage(name: str, *args: str) -> Stage:
        s = run_cli(name, list(args), env)
        stages.append(s)
        print(f"  {backend:10} {name:16} {s.seconds:8.1f} s  {s.peak_rss_mb:7.0f} MB", flush=True)
        return s

    stage("db upgrade", "db", "upgrade")
    stage("directory load", "directory", "load", str(people_csv))
    stage("ingest", "ingest", str(logs), "--format", "auto")
    stored = stored_interactions(url)
    if stored != expected:
        raise SystemExit(f"{backend}: {stored:,} interactions stored of {expected:,} written")
    stage("tiers", "tiers", "--period", PERIOD)
    drawn = stage("sample draw", "sample", "draw", "--period", PERIOD)
    m = re.search(r"sample (\S+):", drawn.output)
    if not m:
        raise SystemExit(f"no sample id in: {drawn.output}")
    sample_id = m.group(1)
    stage("scan", "scan", "--sample", sample_id, "--workers", str(workers))
    stage("evaluate", "evaluate", "--sample", sample_id)
    stage("report", "report", "--period", PERIOD)
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=65_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="auditor-scale-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        logs = work / "logs"
        people_csv = work / "people.csv"
        t0 = time.perf_counter()
        people = write_people(people_csv, args.people, random.Random(65))
        written = write_month(logs, people, args.interactions)
        size = sum(p.stat().st_size for p in logs.iterdir())
        print(
            f"wrote {args.people:,} people and {written:,} interactions "
            f"({size / 1e6:,.0f} MB of logs in {2 * DAYS} files) in "
            f"{time.perf_counter() - t0:.0f} s (not timed below)",
            flush=True,
        )
        load = os.getloadavg()[0]
        backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
        results: dict[str, tuple[list[Stage], int]] = {}
        for backend in backends:
            if backend == "sqlite":
                db_file = work / "sqlite" / "auditor.db"
                db_file.parent.mkdir(exist_ok=True)
                url = f"sqlite:///{db_file}"
                stages = audit(backend, url, work, people_csv, logs, args.workers, written)
                results[backend] = (stages, database_size(url, db_file))
            else:
                with postgres_database(args.postgres_url) as url:
                    stages = audit(backend, url, work, people_csv, logs, args.workers, written)
                    results[backend] = (stages, database_size(url, None))

        print()
        print(
            f"{written:,} interactions, {args.people:,} people, {args.workers} scan workers, "
            f"{os.cpu_count()} cores, load average at start {load:.1f}"
        )
        print("| stage | " + " | ".join(results) + " |")
        print("|---|" + "---|" * len(results))
        names = [s.name for s in next(iter(results.values()))[0]]
        for i, name in enumerate(names):
            cells = [
                f"{stages[i].seconds:.1f} s, {stages[i].peak_rss_mb:.0f} MB"
                for stages, _ in results.values()
            ]
            print(f"| {name} | " + " | ".join(cells) + " |")
        totals = [f"{sum(s.seconds for s in stages):.1f} s" for stages, _ in results.values()]
        print("| total | " + " | ".join(totals) + " |")
        sizes = [f"{size / 1e6:,.0f} MB" for _, size in results.values()]
        print("| database size | " + " | ".join(sizes) + " |")


if __name__ == "__main__":
    main()
