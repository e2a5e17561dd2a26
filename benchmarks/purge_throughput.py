"""Purge of raw text: N synthetic interactions ingested, then all purged, on SQLite and/or
PostgreSQL.

    .venv/bin/python benchmarks/purge_throughput.py [--records 200000]
        [--database sqlite|postgresql|both] [--postgres-url URL]

Times `purge_raw_text` (one set-based UPDATE in one transaction) and `reclaim_space` (SQLite:
VACUUM with secure_delete; PostgreSQL: VACUUM FULL of interactions) separately, in a child
process, and prints the database size before and after.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from ingest_throughput import _database, write_records

CHILD = """
import sys, time
from datetime import datetime
from pathlib import Path
from sqlalchemy import text
from auditor.db.retention import purge_raw_text, reclaim_space
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.ingest.stage import ingest_paths
url, log = sys.argv[1], Path(sys.argv[2])
engine = make_engine(url)
upgrade(engine)
with session_scope(engine) as s:
    ingest_paths(s, [log], "openai-chat", max_line_bytes=16 << 20, commit=s.commit)

def size():
    if engine.dialect.name == "sqlite":
        db = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    with engine.connect() as c:
        return c.execute(text("SELECT pg_database_size(current_database())")).scalar_one()

before = size()
t0 = time.perf_counter()
with session_scope(engine) as s:
    n = purge_raw_text(s, datetime(2100, 1, 1), now=datetime(2026, 12, 7))
t1 = time.perf_counter()
reclaim_space(engine)
t2 = time.perf_counter()
print(n, f"{t1 - t0:.1f}", f"{t2 - t1:.1f}", before, size())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"
        write_records(log, args.records, compress=False)
        for backend in backends:
            with _database(backend, Path(tmp), args.postgres_url) as url:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, url, str(log)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()
            n, purge_s, reclaim_s = int(out[0]), float(out[1]), float(out[2])
            before_mb, after_mb = int(out[3]) / 1e6, int(out[4]) / 1e6
            print(
                f"{backend}: purged {n:,} interactions: UPDATE {purge_s} s, reclaim {reclaim_s} s; "
                f"database {before_mb:,.0f} MB -> {after_mb:,.0f} MB"
            )


if __name__ == "__main__":
    main()
