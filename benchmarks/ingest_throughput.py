"""Ingest throughput and memory: N synthetic openai-chat records -> SQLite or PostgreSQL.

    .venv/bin/python benchmarks/ingest_throughput.py [--records 1000000] [--gzip]
        [--database sqlite|postgresql|both] [--postgres-url URL]

Writes a JSONL file of N records (prompts of mixed length), ingests it into a fresh database
in a child process, and prints records per second and the child's peak RSS. Memory must not
grow with file size: compare `--records 100000` with the default. PostgreSQL: a database with
a unique name is created on the server of --postgres-url (default: the test suite's,
postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SENTENCES = (
    "please summarise the attached quarterly note for the desk and flag any risks to liquidity "
    "draft a polite reply to the client about the delayed settlement explain this stack trace "
    "from our pricing service write a sql query joining trades to positions by book"
)
WORDS = SENTENCES.split()


def write_records(path: Path, n: int, *, compress: bool) -> None:
    rng = random.Random(1)
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8") as fh:  # type: ignore[operator]
        for i in range(n):
            prompt = " ".join(rng.choice(WORDS) for _ in range(rng.choice((8, 30, 120))))
            rec = {
                "timestamp": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                "user": {"id": f"u{i % 5000:05d}", "email": f"u{i % 5000:05d}@bank.example"},
                "tool": "chatgpt-enterprise",
                "workflow": "research",
                "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]},
                "response": {
                    "id": f"chatcmpl-{i:09d}",
                    "created": 1791000000 + i,
                    "model": "gpt-4o",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK."}}],
                    "usage": {"prompt_tokens": 40, "completion_tokens": 2},
                },
            }
            fh.write(json.dumps(rec) + "\n")


CHILD = """
import sys, time, resource
from pathlib import Path
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.ingest.stage import ingest_paths
url, log = sys.argv[1], Path(sys.argv[2])
engine = make_engine(url)
upgrade(engine)
start = time.perf_counter()
with session_scope(engine) as s:
    [res] = ingest_paths(s, [log], "openai-chat", max_line_bytes=16 << 20)
elapsed = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
assert res.reconciles and res.loaded == res.total, (res.total, res.loaded, res.rejected)
print(f"{res.loaded} {elapsed:.3f} {peak_mb:.1f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--gzip", action="store_true", help="write and read a .jsonl.gz file")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / ("log.jsonl.gz" if args.gzip else "log.jsonl")
        t0 = time.perf_counter()
        write_records(log, args.records, compress=args.gzip)
        size_mb = log.stat().st_size / 1e6
        took = time.perf_counter() - t0
        print(f"wrote {args.records:,} records ({size_mb:,.0f} MB) in {took:.0f} s")
        for backend in backends:
            with _database(backend, Path(tmp), args.postgres_url) as url:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, url, str(log)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()
            loaded, elapsed, peak = int(out[0]), float(out[1]), float(out[2])
            print(
                f"{backend}: ingested {loaded:,} records in {elapsed:.1f} s: "
                f"{loaded / elapsed:,.0f} records/s, peak RSS {peak:,.0f} MB"
            )


@contextmanager
def _database(backend: str, tmp: Path, postgres_url: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'b.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from auditor.config import normalise_database_url

    admin_url = normalise_database_url(postgres_url)
    name = f"auditor_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
