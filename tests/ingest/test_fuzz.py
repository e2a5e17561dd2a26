"""Fuzz targets for every log reader and the people loader (hardening issue: "fuzzing that
stays"). Structure-aware: each target starts from valid files of its format and mutates them
the ways broken feeds do (a stray quote, a bare CR, a NUL, an invalid UTF-8 byte, a brace or
comma, a cut, a repeated or dropped slice, a very long run), then ingests the result.

The invariant: no unhandled exception (an InputError for a file that is unusable as a whole
is handled), and every file reconciles: records read = stored + duplicates + rejected (the
people loader: rows = inserted + updated + unchanged + rejected). No log reader's rejection
reason quotes the planted marker.

In the test suite each target runs for FUZZ_SECONDS (default 2) with a seed per run printed
on failure; `make fuzz` runs each for 10 minutes. A failure prints the seed and the mutation
list so it can be replayed: FUZZ_SEED=<seed> FUZZ_SECONDS=... pytest -k <target>.
"""

from __future__ import annotations

import gzip
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from auditor.directory import load_people
from auditor.errors import AuditorError
from auditor.ingest.stage import ingest_paths

DATA = Path(__file__).resolve().parents[1] / "data"
LOGS = DATA / "logs"
SECONDS = float(os.environ.get("FUZZ_SECONDS", "2"))
MARKER = "FUZZ-MARKER-q7"

# Valid seed files per format (gzip files are mutated inside, then compressed again).
SEEDS: dict[str, list[Path]] = {
    "openai-chat": [LOGS / "good.jsonl", LOGS / "openai_batch" / "output.jsonl"],
    "otel": sorted((LOGS / "otel").glob("v1*.jsonl")),
    "claude-code": [LOGS / "claude_code" / "prompts.jsonl"],
    "litellm": [
        LOGS / "litellm" / "spend_logs.csv",
        LOGS / "litellm" / "spend_logs.jsonl",
        LOGS / "litellm" / "standard_logging_payload.jsonl",
    ],
    "langfuse": [
        LOGS / "langfuse" / "observations_v2.csv",
        LOGS / "langfuse" / "observations_v2.json",
        LOGS / "langfuse" / "observations_v2.jsonl",
    ],
    "chatgpt-compliance": [
        LOGS / "chatgpt_compliance" / "conversations.jsonl",
        LOGS / "chatgpt_compliance" / "list_page.json",
        LOGS / "chatgpt_compliance" / "array.json",
    ],
    "csv": [LOGS / "generic_csv" / "good.csv", LOGS / "generic_csv" / "aliases_semicolon.csv"],
}
PEOPLE_SEEDS = [DATA / "people" / "people.csv", DATA / "people" / "extra_columns.csv"]

TOKENS = [b'"', b"\r", b"\n", b"\x00", b"\xff", b"\xc3", b"{", b"}", b"[", b"]", b",", b";",
          b"\\", b'\\"', b"\t", b"=", b"9999-12-31T23:59:59Z", b"1e20", b"-1", b"null",
          b"\xe2\x80\xae", MARKER.encode()]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """Apply 1-4 random mutations; return the bytes and a description of what was done."""
    steps = []
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        kind = rng.randrange(7)
        if kind == 0:
            token = rng.choice(TOKENS)
            data = data[:at] + token + data[at:]
            steps.append(f"insert {token!r} at {at}")
        elif kind == 1 and data:
            end = min(len(data), at + rng.randint(1, 64))
            data = data[:at] + data[end:]
            steps.append(f"delete {at}:{end}")
        elif kind == 2:
            data = data[:at]
            steps.append(f"truncate at {at}")
        elif kind == 3 and data:
            end = min(len(data), at + rng.randint(1, 400))
            data = data[:end] + data[at:end] + data[end:]
            steps.append(f"repeat {at}:{end}")
        elif kind == 4 and at < len(data):
            data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
            steps.append(f"replace byte {at}")
        elif kind == 5:
            run = rng.choice([b"a", b'"', b" ", b"0"]) * rng.randint(1000, 200_000)
            data = data[:at] + run + data[at:]
            steps.append(f"insert a run of {len(run)} at {at}")
        else:
            lines = data.split(b"\n")
            rng.shuffle(lines)
            data = b"\n".join(lines)
            steps.append("shuffle lines")
    return data, steps


def _seed_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _run(target: str, seeds: list[Path], check: Callable[[Path], None], tmp_path: Path) -> int:
    seed = int(os.environ.get("FUZZ_SEED", random.SystemRandom().randrange(2**32)))
    rng = random.Random(seed)
    deadline = time.monotonic() + SECONDS
    cases = 0
    while time.monotonic() < deadline or cases == 0:
        source = rng.choice(seeds)
        data, steps = mutate(_seed_bytes(source), rng)
        if rng.random() < 0.2:
            data = gzip.compress(data)
            steps.append("gzip")
        path = tmp_path / f"case-{cases}{source.suffix}"
        path.write_bytes(data)
        try:
            check(path)
        except BaseException as exc:  # noqa: BLE001 - report the replay recipe, then fail
            raise AssertionError(
                f"fuzz target {target} failed on case {cases} (FUZZ_SEED={seed}): "
                f"{source.name} with {steps}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            path.unlink(missing_ok=True)
        cases += 1
    return cases


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_fuzz_reader(fmt: str, session: Session, tmp_path: Path) -> None:
    def check(path: Path) -> None:
        savepoint = session.begin_nested()
        try:
            try:
                results = ingest_paths(session, [path], fmt, max_line_bytes=1 << 20)
            except AuditorError:
                return  # the file as a whole was refused, with a message: handled
            for r in results:
                assert r.reconciles, r.reconciliation
                for _line, reason in r.rejections:
                    assert MARKER not in reason, "a rejection quoted the record"
        finally:
            savepoint.rollback()

    assert _run(fmt, SEEDS[fmt], check, tmp_path) > 0


def test_fuzz_people_loader(session: Session, tmp_path: Path) -> None:
    def check(path: Path) -> None:
        savepoint = session.begin_nested()
        try:
            try:
                result = load_people(session, path)
            except AuditorError:
                return
            # Reasons may name a user_id (an employee id, not content): not checked here.
            assert result.reconciles
        finally:
            savepoint.rollback()

    assert _run("people", PEOPLE_SEEDS, check, tmp_path) > 0
