"""The demo's gateway records, generated once per test run and handed out as fresh copies."""

from __future__ import annotations

import atexit
import copy
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from auditor.demo import generate_demo


@cache
def _records() -> tuple[dict[str, Any], ...]:
    out = Path(tempfile.mkdtemp(prefix="auditor-demo-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    files = generate_demo(out / "demo", people=30, bad_lines=False)
    return tuple(
        json.loads(line)
        for path in files.log_files
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


def demo_records(_tmp_path: Path | None = None) -> list[dict[str, Any]]:
    """Every valid record of a 30-person demo month, as the gateway logged it (a deep copy,
    so a test may change them freely)."""
    return copy.deepcopy(list(_records()))
