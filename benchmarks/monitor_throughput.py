"""Population monitoring throughput: `auditor monitor` with the local engine and with Spark
(pyspark, local[N]) on the same unique texts, end to end (read, scan, evaluate, store).

    .venv/bin/python benchmarks/monitor_throughput.py [--texts 20000] [--master local[2]]
                                                      [--workers 2]

Takes N distinct prompt and output texts of demo months (auditor.demo, several seeds until
there are N; no text twice, so no reuse of identical texts is counted as speed), stores one
interaction per text (the text as its prompt) in a fresh SQLite database, and monitors the
month with each engine on its own copy. Prints texts per second of each, Spark's overhead as
the ratio local/Spark, peak resident memory of each worker or executor Python process (read
from /proc while they run), and the projection: executor cores needed to scan 30 million
interactions in one hour at the measured per-core rate, with the texts per interaction of
the demo month (prompt, output and attribute text). Nothing reaches the network.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PERIOD = "2026-10"
INTERACTIONS_PER_MONTH = 30_000_000
KEY = "monitor-benchmark-key-padded-to-32-bytes"


def unique_texts(count: int, folder: Path) -> list[str]:
    """`count` distinct prompt and output texts from demo months (seed 1, 2, ...)."""
    from auditor.demo.generator import generate_demo
    from auditor.normalize import normalize_openai_chat

    seen: dict[str, None] = {}
    seed = 0
    while len(seen) < count:
        seed += 1
        files = generate_demo(folder / f"seed{seed}", seed=seed, people=300)
        for path in sorted((folder / f"seed{seed}").rglob("*.jsonl")):
            if "truth" in path.parts:
                continue
            for line in path.read_bytes().splitlines():
                try:
                    record = normalize_openai_chat(json.loads(line), source_format="openai-chat")
                except Exception:  # noqa: BLE001 - other formats' files: not needed here
                    break
                for text in (record.prompt_text, record.output_text):
                    if text:
                        seen.setdefault(text)
        del files
        if seed > 40:
            raise SystemExit(f"only {len(seen)} distinct texts in 40 demo months")
    return list(seen)[:count]


def build_database(url: str, texts: list[str]) -> None:
    from auditor.db.models import Interaction
    from auditor.db.session import make_engine, session_scope, upgrade

    engine = make_engine(url)
    upgrade(engine)
    start = datetime(2026, 10, 1)
    step = timedelta(seconds=(31 * 86400 - 1) // max(1, len(texts)))
    with session_scope(engine) as session:
        for i, text in enumerate(texts):
            session.add(
                Interaction(
                    event_id=f"bench-{i}",
                    source_format="openai-chat",
                    occurred_at=start + step * i,
                    user_id=f"u{i % 500:05d}",
                    tool="chatgpt-enterprise",
                    prompt_text=text,
                    output_text=None,
                    content_status="present",
                    attributes={},
                )
            )
            if i % 5000 == 4999:
                session.flush()
    engine.dispose()


# --- peak memory of the processes below this one ---------------------------------------------


def _children() -> dict[int, int]:
    """pid -> parent pid of every process."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(root: int) -> list[int]:
    parents = _children()
    out, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == pid]
        out.extend(kids)
        frontier.extend(kids)
    return out


def _kind(pid: int) -> str | None:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    if "java" in cmd.split(" ", 1)[0]:
        return "jvm"
    if "pyspark" in cmd or "multiprocessing" in cmd:
        return "python worker"
    return None


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@contextmanager
def peak_memory() -> Iterator[dict[int, tuple[str, int]]]:
    """pid -> (kind, peak resident KiB) of the JVM and Python worker processes below this one,
    sampled twice a second while the block runs."""
    peaks: dict[int, tuple[str, int]] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in _descendants(os.getpid()):
                kind = _kind(pid)
                if kind is not None:
                    peaks[pid] = (kind, max(_hwm_kib(pid), peaks.get(pid, (kind, 0))[1]))
            stop.wait(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()


# --- the runs ---------------------------------------------------------------------------------


def monitor(settings: Any, engine: str, master: str, workers: int, output: Path) -> dict[str, Any]:
    from auditor.db.session import make_engine, session_scope
    from auditor.monitor.run import run_monitor

    db = make_engine(settings.database.url)
    try:
        with peak_memory() as peaks, session_scope(db) as session:
            started = time.perf_counter()
            result = run_monitor(
                session,
                settings,
                PERIOD,
                engine=engine,
                spark_master=master,
                workers=workers,
                output=output,
            )
            seconds = time.perf_counter() - started
    finally:
        db.dispose()
    workers_kib = [kib for kind, kib in peaks.values() if kind == "python worker"]
    if not workers_kib:  # one worker: the scanner ran in this process
        workers_kib = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]
    jvm_kib = [kib for kind, kib in peaks.values() if kind == "jvm"]
    stats = result.stats
    return {
        "engine": engine,
        "seconds": round(seconds, 1),
        "texts": stats.fields_scanned,
        "texts_per_second": round(stats.fields_scanned / seconds, 1),
        "violations": stats.violations,
        "detections": stats.detections,
        "worker_processes": len(workers_kib),
        "peak_worker_mib": round(max(workers_kib, default=0) / 1024),
        "peak_jvm_mib": round(max(jvm_kib, default=0) / 1024) if jvm_kib else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=20_000, help="distinct texts to scan")
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument("--workers", type=int, default=2, help="local engine's processes")
    parser.add_argument(
        "--texts-per-interaction",
        type=float,
        default=3.0,
        help="for the projection: texts scanned per interaction (the demo month: 3.0)",
    )
    args = parser.parse_args()
    cores = int(args.master.removeprefix("local[").rstrip("]")) if "local[" in args.master else 0

    from auditor.config import load_settings

    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        texts = unique_texts(args.texts, tmp / "demo")
        assert len(set(texts)) == len(texts) == args.texts
        base = tmp / "base.db"
        build_database(f"sqlite:///{base}", texts)
        rows = []
        for engine in ("local", "spark"):
            db = tmp / f"{engine}.db"
            shutil.copyfile(base, db)
            settings = load_settings(
                None,
                data_dir=str(tmp / ".auditor"),
                database={"url": f"sqlite:///{db}"},
                scan={"hash_key": KEY, "workers": args.workers},
            )
            rows.append(monitor(settings, engine, args.master, args.workers, tmp / "out"))
            print(json.dumps(rows[-1]), flush=True)
    local, spark = rows
    assert local["texts"] == spark["texts"] == args.texts, (local["texts"], spark["texts"])
    assert (local["violations"], local["detections"]) == (spark["violations"], spark["detections"])
    per_core = spark["texts_per_second"] / max(1, cores or args.workers)
    needed = INTERACTIONS_PER_MONTH * args.texts_per_interaction / (per_core * 3600)
    print()
    python = sys.version.split()[0]
    print(f"texts: {args.texts} distinct; machine: {os.cpu_count()} cores; Python {python}")
    header = ("engine", "seconds", "texts/s", "workers", "peak MiB/worker", "JVM MiB")
    print(f"{header[0]:<8}{header[1]:>9}{header[2]:>10}{header[3]:>9}{header[4]:>17}{header[5]:>9}")
    for r in rows:
        print(
            f"{r['engine']:<8}{r['seconds']:>9}{r['texts_per_second']:>10}"
            f"{r['worker_processes']:>9}{r['peak_worker_mib']:>17}{r['peak_jvm_mib'] or '-':>9}"
        )
    print(
        f"Spark overhead: local/Spark = {local['texts_per_second'] / spark['texts_per_second']:.2f}"
    )
    print(
        f"projection: {INTERACTIONS_PER_MONTH:,} interactions x {args.texts_per_interaction} "
        f"texts = {INTERACTIONS_PER_MONTH * args.texts_per_interaction:,.0f} texts; at "
        f"{per_core:.1f} texts/s per executor core (Spark {spark['texts_per_second']} texts/s "
        f"on {cores or args.workers} cores) one hour needs "
        f"{INTERACTIONS_PER_MONTH * args.texts_per_interaction:,.0f} / ({per_core:.1f} x 3600)"
        f" = {needed:,.0f} -> {math.ceil(needed)} executor cores"
    )


if __name__ == "__main__":
    main()
