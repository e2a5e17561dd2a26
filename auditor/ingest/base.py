"""The reader contract and the shared JSON Lines plumbing readers build on."""

from __future__ import annotations

import gzip
import json
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from auditor.config import IngestSettings
from auditor.normalize import InteractionRecord

# Python refuses to convert an integer literal of more than 4,300 digits (a ValueError that
# is not a JSONDecodeError): such a record is rejected like any other invalid JSON.
TOO_LONG_NUMBER = "a number too long to read"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A parsed record and where it came from (line number, or record number for non-line files)."""

    line_no: int
    obj: Any
    # Repairs made while reading, reported as warnings, e.g. invalid UTF-8 replaced.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that could not be parsed. `reason` never quotes the record's content."""

    line_no: int
    reason: str


class Reader(ABC):
    """A log format: how to split a file into raw records and normalize each one.

    Subclasses set `name` and `description`, implement `records` and `normalize`, and may
    override `sniff` for `--format auto`. Register with `@register` in `auditor.ingest.registry`.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    # The longest CSV field (ingest.max_field_bytes), set by the ingest stage before
    # `records()`; readers of other layouts ignore it.
    max_field_bytes: int = IngestSettings.model_fields["max_field_bytes"].default

    def __init__(self) -> None:
        # Records read that are not interactions at all (e.g. embedding spans), by kind;
        # reset by `records()` and reported in the file's reconciliation.
        self.skipped: Counter[str] = Counter()

    def sniff(self, head: bytes) -> bool:
        """Whether the first bytes of a file look like this format (for `--format auto`)."""
        return False

    @abstractmethod
    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        """Split a file into parsed records, or rejections saying why (never quoting content)."""

    @abstractmethod
    def normalize(self, raw: RawRecord) -> InteractionRecord:
        """Raise `auditor.normalize.RecordError` for a record that cannot be used."""


GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 64 * 1024


def open_binary(path: Path) -> BinaryIO:
    """Open a log file for reading bytes; a gzip file (by content, not name) is decompressed
    transparently and streamed, never loaded whole."""
    fh = path.open("rb")
    if fh.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first `size` bytes of the (decompressed) file, for `sniff`; of a damaged gzip
    stream, what could be read before the damage."""
    chunks: list[bytes] = []
    got = 0
    with open_binary(path) as fh:
        while got < size:
            try:
                chunk = fh.read(min(4096, size - got))
            except (OSError, EOFError, zlib.error):
                break
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    return b"".join(chunks)


def iter_json_lines(path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
    """Yield each non-blank line of a JSONL file as a parsed object, or why it was rejected.

    Reads bytes so that one line of bad encoding is rejected alone and the rest still lands.
    Gzip files are read transparently. A truncated gzip stream ends the file with a rejection.
    """
    try:
        yield from _iter_json_lines(path, max_line_bytes=max_line_bytes)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # Line 0: the file as a whole; the records read before the damage are kept.
        yield Rejected(0, f"compressed stream is damaged ({type(exc).__name__}); reading stopped")


def _iter_json_lines(path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
    with open_binary(path) as fh:
        line_no = 0
        while True:
            line = fh.readline(max_line_bytes + 1)
            if not line:
                break
            line_no += 1
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                # Skip the rest of the over-long line, then reject it as a whole.
                while line and not line.endswith(b"\n"):
                    line = fh.readline(max_line_bytes + 1)
                yield Rejected(line_no, f"line is longer than {max_line_bytes} bytes")
                continue
            if line_no == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # a UTF-8 byte-order mark written by some exporters
            if not line.strip():
                continue
            notes: tuple[str, ...] = ()
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                # Keep the record: the bad bytes become U+FFFD and the repair is reported.
                text = line.decode("utf-8", errors="replace")
                notes = (f"invalid UTF-8 replaced (first at byte {exc.start} of the line)",)
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Rejected(line_no, f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            except RecursionError:
                yield Rejected(line_no, "JSON nested too deeply")
                continue
            except ValueError:  # an integer literal longer than Python converts
                yield Rejected(line_no, f"not valid JSON ({TOO_LONG_NUMBER})")
                continue
            if not isinstance(obj, dict):
                yield Rejected(line_no, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield RawRecord(line_no, obj, notes)
