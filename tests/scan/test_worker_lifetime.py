"""Case 11 of the hardening issue: scan workers end with the auditor process that started
them, however it ends (kill -9 included), instead of sleeping forever at ~300 MB each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from auditor.config import ScanSettings
from auditor.scan.engine import ScanResult

ROOT = Path(__file__).resolve().parents[2]
PARENT = """
import sys, time
from auditor.config import ScanSettings
from auditor.scan.parallel import ScanPool
from tests.scan.test_worker_lifetime import build_trivial

pool = ScanPool(ScanSettings(), b"k" * 32, workers=2, build=build_trivial)
list(pool.scan(["a", "b", "c", "d"]))
print(" ".join(str(pid) for pid in pool._executor._processes), flush=True)
time.sleep(120)
"""


class Trivial:
    """A scanner that finds nothing, so the test needs no model."""

    revision = "trivial"

    def scan_results(self, texts: Sequence[str], batch_size: int = 64) -> list[ScanResult]:
        return [
            ScanResult(hits=[], status="scanned", chars_scanned=len(t), text_length=len(t))
            for t in texts
        ]


def build_trivial(settings: ScanSettings, hash_key: bytes) -> Trivial:
    return Trivial()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be collected


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_case_11_workers_end_with_their_parent(how: signal.Signals) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
        # Every process the run started: the workers and multiprocessing's resource tracker.
        children = _children(parent.pid)
        assert set(workers) <= set(children)
        parent.send_signal(how)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "processes outlived the run"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
