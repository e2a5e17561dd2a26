"""`auditor detect`: run the pipeline's scanner over JSON Lines, print offsets, never values.

Input: one JSON object per line, `{"id": ..., "text": "..."}`, from a file or stdin (`-`).
Output: one line per input line, `{"id": ..., "entities": [{"type", "start", "end", "score"}]}`
(plus `subject_id` on client data, and `status`/`reason_code` when a text was scanned only in
part). A line that is not such an object gets `{"line": N, "error": "..."}` without its
content, a text the scanner fails on gets `{"id": ..., "error": "the scanner raised <type>"}`;
the rest still runs, and the command exits 1 at the end.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from auditor.cli._common import ConfigOption, err_console, settings_from
from auditor.config import load_settings
from auditor.errors import InputError
from auditor.scan.parallel import ScanPool

BATCH = 64


def detect_cmd(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="JSON Lines file; - or nothing: stdin.")
    ] = "-",
    config: ConfigOption = None,
) -> None:
    """Detect entities in JSON Lines texts with the pipeline's scanner; print offsets as JSONL."""
    from auditor.pipeline import Components

    settings = load_settings(Path(config)) if config else settings_from(ctx)
    scanner = Components(settings).scanner  # built exactly as `auditor run` builds it
    bad = failed = 0
    # The stage's pool, in this process: identical texts are scanned once, and a text the
    # scanner fails on is reported alone (by the exception's type) while the rest goes on.
    with (
        ScanPool(settings.scan, scanner.hash_key, workers=1, scanner=scanner) as pool,
        _open(source) as stream,
    ):
        for batch in _batches(stream):
            jobs = [(n, obj) for n, obj, error in batch if error is None]
            outcomes = list(pool.scan([obj["text"] for _, obj in jobs]))
            by_line = dict(zip((n for n, _ in jobs), outcomes, strict=True))
            for n, obj, error in batch:
                if error is not None:
                    bad += 1
                    _emit({"line": n, "error": error})
                    continue
                outcome = by_line[n]
                if outcome.hits is None:
                    failed += 1
                    _emit({"id": obj["id"], "error": f"the scanner raised {outcome.error}"})
                    continue
                out: dict[str, Any] = {
                    "id": obj["id"],
                    "entities": [
                        {
                            "type": h.entity_type,
                            "start": h.start,
                            "end": h.end,
                            "score": round(h.score, 4),
                            **({"subject_id": h.subject_id} if h.subject_id else {}),
                        }
                        for h in outcome.hits
                    ],
                }
                if outcome.status != "scanned":
                    out.update(status=outcome.status, reason_code=outcome.reason_code)
                _emit(out)
    if bad or failed:
        problems = []
        if bad:
            problems.append(f"{bad} input line(s) were not objects with an id and a string text")
        if failed:
            problems.append(f"the scanner failed on {failed} text(s)")
        err_console.print(f"error: {'; '.join(problems)}", highlight=False, markup=False)
        raise typer.Exit(1)


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


class _open:
    """The input stream: a file (UTF-8, bad bytes replaced) or stdin."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.fh: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if self.source == "-":
            return sys.stdin
        try:
            self.fh = open(self.source, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise InputError(
                f"cannot read {self.source}: {exc.strerror}", "check the path"
            ) from None
        return self.fh

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()


def _batches(stream: IO[str]) -> Iterator[list[tuple[int, dict[str, Any], str | None]]]:
    batch: list[tuple[int, dict[str, Any], str | None]] = []
    for n, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        batch.append((n, *_parse(line)))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _parse(line: str) -> tuple[dict[str, Any], str | None]:
    """The object of a line, or an error that does not quote the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"not JSON (column {exc.colno})"
    if not isinstance(obj, dict):
        return {}, "not a JSON object"
    if "id" not in obj:
        return {}, "no `id`"
    if not isinstance(obj.get("text"), str):
        return {}, "no string `text`"
    return obj, None
