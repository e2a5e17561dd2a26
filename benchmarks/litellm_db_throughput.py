"""`litellm-db` throughput: N rows of LiteLLM's spend-log table read into the auditor.

    .venv/bin/python benchmarks/litellm_db_throughput.py [--rows 100000]
        [--database sqlite|postgresql|both] [--postgres-url URL] [--compare-export]

Creates a PostgreSQL database holding `LiteLLM_SpendLogs` as LiteLLM's migrations create it
(tests/data/litellm_spend_logs.sql) on the server of --postgres-url (default: the test suite's,
postgresql+psycopg://postgres@127.0.0.1:5432/test), fills it with N rows with stored prompts
(server side, generate_series), then, in a child process per auditor database: the first read
of the whole table, and an incremental read after 1% more rows arrived (the lag window of 60
minutes, about 1,800 rows at one row every 2 s, is read again as duplicates). Prints rows per
second and the child's peak RSS. With --compare-export, the same rows are also written as a
JSON Lines export of the table and read with `--format litellm` into a fresh database of the
same kind, for the cost of reading the table instead of a file. Every database it creates is
dropped afterwards.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
DDL = ROOT / "tests" / "data" / "litellm_spend_logs.sql"

# One row every 2 seconds from 1 October 2026: 100,000 rows span about 2.3 days.
FILL = """
INSERT INTO "LiteLLM_SpendLogs" (
    request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens,
    "startTime", "endTime", model, model_group, custom_llm_provider, "user", metadata,
    request_tags, team_id, end_user, messages, response, session_id, status
)
SELECT
    'chatcmpl-' || lpad(g::text, 9, '0'), 'acompletion', md5(g::text), 0.0004, 60, 40, 20,
    timestamp '2026-10-01' + g * interval '2 seconds',
    timestamp '2026-10-01' + g * interval '2 seconds' + interval '1 second',
    'gpt-4o', 'gpt-4o', 'openai', 'svc-assistant',
    jsonb_build_object('user_api_key_alias', 'assistant', 'user_api_key_user_id', 'svc'),
    '["workflow:research"]'::jsonb, 'team-1', 'u' || lpad((g % 5000)::text, 5, '0'),
    jsonb_build_array(jsonb_build_object('role', 'user', 'content',
        'please summarise the quarterly note number ' || g || ' for the desk and flag risks')),
    jsonb_build_object('choices', jsonb_build_array(jsonb_build_object('message',
        jsonb_build_object('role', 'assistant', 'content', 'Summary ' || g)))),
    'sess-' || (g % 997), 'success'
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
"""

CHILD = """
import resource, sys, time
from datetime import UTC, datetime
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.ingest.litellm_db import DatabaseSource, read_spend_logs
url, source = sys.argv[1], sys.argv[2]
engine = make_engine(url)
upgrade(engine)
now = datetime(2026, 11, 1, tzinfo=UTC)
with session_scope(engine) as s:
    start = time.perf_counter()
    res = read_spend_logs(s, DatabaseSource(source), commit=s.commit, now=now)
    first = time.perf_counter() - start
    print(res.total, res.loaded, f"{first:.3f}", flush=True)
    assert res.reconciles and res.loaded == res.total
    input()  # the parent adds rows
    start = time.perf_counter()
    res = read_spend_logs(s, DatabaseSource(source), commit=s.commit, now=now)
    again = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(res.total, res.loaded, res.duplicate, f"{again:.3f}", f"{peak_mb:.1f}")
"""


EXPORT_CHILD = """
import sys, time
from pathlib import Path
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.ingest.stage import ingest_paths
url, log = sys.argv[1], Path(sys.argv[2])
engine = make_engine(url)
upgrade(engine)
with session_scope(engine) as s:
    start = time.perf_counter()
    [res] = ingest_paths(s, [log], "litellm", max_line_bytes=16 << 20)
    took = time.perf_counter() - start
assert res.reconciles and res.loaded == res.total
print(res.loaded, f"{took:.3f}")
"""


def _export(source: str, path: Path) -> None:
    import json

    engine = create_engine(source)
    try:
        with engine.connect() as conn, path.open("w") as fh:
            query = 'SELECT row_to_json(t) FROM "LiteLLM_SpendLogs" t ORDER BY "startTime"'
            for (row,) in conn.execute(text(query)):
                fh.write(json.dumps(row) + "\n")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--compare-export", action="store_true")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    more = max(1, args.rows // 100)
    for backend in backends:
        with (
            _database(args.postgres_url, "litellm") as source,
            _auditor_db(backend, args.postgres_url) as url,
        ):
            t0 = time.perf_counter()
            _fill(source, 1, args.rows)
            print(f"source: {args.rows:,} rows written in {time.perf_counter() - t0:.0f} s")
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, url, source],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            assert child.stdout is not None and child.stdin is not None
            total, loaded, first = child.stdout.readline().split()
            _fill(source, args.rows + 1, args.rows + more)
            child.stdin.write("\n")
            child.stdin.flush()
            out = child.stdout.read().split()
            if child.wait() != 0:
                raise SystemExit(f"{backend}: the read failed")
            again_total, again_loaded, again_dup, again, peak = out
            print(
                f"{backend}: first read {int(loaded):,} rows in {float(first):.1f} s "
                f"({int(loaded) / float(first):,.0f} rows/s); then {int(again_loaded):,} new rows "
                f"({int(again_total):,} read, {int(again_dup):,} re-read within the lag) in "
                f"{float(again):.1f} s; peak RSS {float(peak):,.0f} MB"
            )
            if args.compare_export:
                _compare(backend, source, args.rows, args.postgres_url)


def _compare(backend: str, source: str, rows: int, postgres_url: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, _auditor_db(backend, postgres_url) as url:
        log = Path(tmp) / "spend_logs.jsonl"
        _export(source, log)
        out = subprocess.run(
            [sys.executable, "-c", EXPORT_CHILD, url, str(log)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.split()
        loaded, took = int(out[0]), float(out[1])
        print(
            f"{backend}: the same {loaded:,} rows as a JSON Lines export, --format litellm: "
            f"{took:.1f} s ({loaded / took:,.0f} rows/s)"
        )


def _fill(url: str, first: int, last: int) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(FILL), {"first": first, "last": last})
            conn.exec_driver_sql('ANALYZE "LiteLLM_SpendLogs"')
    finally:
        engine.dispose()


@contextmanager
def _database(postgres_url: str, kind: str) -> Iterator[str]:
    from auditor.config import normalise_database_url

    admin_url = normalise_database_url(postgres_url)
    name = f"bench_{kind}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        if kind == "litellm":
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql(DDL.read_text())
            engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _auditor_db(backend: str, postgres_url: str) -> Iterator[str]:
    if backend == "postgresql":
        with _database(postgres_url, "auditor") as url:
            yield url
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'auditor.db'}"


if __name__ == "__main__":
    main()
