"""Peak memory of ingesting a file of rejected lines (review case 9).

    .venv/bin/python benchmarks/ingest_rejections.py [--lines N]

Writes a gzip of N lines that are not JSON (1,048,577 by default), ingests it as `openai-chat`
into a fresh SQLite file in a child process, and prints the time, the rejections stored and
the child's peak RSS. Rejections are written to the database in batches while reading, so
peak RSS does not grow with them.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, time
from pathlib import Path
from sqlalchemy import func, select
from auditor.db.models import IngestRejection
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.ingest.stage import ingest_paths
engine = make_engine(f"sqlite:///{sys.argv[2]}")
upgrade(engine)
started = time.perf_counter()
with session_scope(engine) as session:
    [res] = ingest_paths(session, [Path(sys.argv[1])], "openai-chat", max_line_bytes=1 << 24)
    stored = session.scalar(select(func.count(IngestRejection.id)))
print(res.reconciliation)
print(f"{res.rejected} rejected, {stored} stored, {time.perf_counter() - started:.1f} s")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_048_577)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.jsonl.gz"
        with gzip.open(path, "wb") as fh:
            for _ in range(args.lines // 1024):
                fh.write(b"{\n" * 1024)
            fh.write(b"{\n" * (args.lines % 1024))
        print(f"{args.lines:,} bad lines, {path.stat().st_size:,} bytes gzip")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(Path(tmp) / "a.db")], check=True
        )
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"wall {time.perf_counter() - started:.1f} s, peak RSS {peak_kib / 1024:.0f} MB")


if __name__ == "__main__":
    main()
