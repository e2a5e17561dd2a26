"""CSV rows that account for every physical line, even when the quoting is broken.

Python's `csv` module, fed a file with one stray `"`, reads the rest of the file as one field:
the rows after it vanish into a single rejection (or a single merged row). `CsvRows` splits a
byte stream into rows with the module's strict parser, but never lets one broken row take
others with it:

- a row is the run of physical lines (split at `\\n`) the strict parser needs for one record;
- when that fails (malformed quoting, a bare CR outside quotes, a quote that never closes, a
  quoted field running over line breaks for more than `max_field_bytes`, a field or a row
  longer than its limit), the row is rejected from its first line, and reading starts again
  at the line after that first line;
- from there, lines that do not parse as a row of the header's width are part of the same
  rejection (named by its first and last line: they may be pieces of the broken row, whose
  end is unknown once its quoting is broken), until a line that does parse: the reader is
  then back in step. A row of the wrong width that holds a quote counts as broken too; one
  without quotes is left to the caller as a ragged row. Every physical line ends up in
  exactly one row, one rejection, or is blank; two broken rows in a row (after one holding
  a quote) are one rejection naming both.

Re-reading after a failure uses the lines already read (held in memory, at most about one
row's limit), so gzip streams are not rewound. The re-reading a broken file causes is
budgeted: past `RESYNC_BUDGET` times `max_field_bytes` of re-parsed text in one stretch, the
rest of the file is rejected as one record naming its lines, rather than parsed for ever.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BOM = b"\xef\xbb\xbf"
SKIP_CHUNK = 1 << 20
RESYNC_BUDGET = 64
# Python's csv limit is a C long on every platform.
MAX_FIELD_LIMIT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class CsvRow:
    """Physical lines `first`..`last`: the row's fields, or why they are not a row."""

    first: int
    last: int
    fields: list[str] | None
    problem: str | None = None
    # Repairs made while reading, e.g. invalid UTF-8 replaced.
    notes: tuple[str, ...] = ()

    @property
    def blank(self) -> bool:
        f = self.fields
        return f is not None and (not f or (len(f) == 1 and not f[0].strip()))


class _Failed(Exception):
    """A row attempt failed for a reason the csv module does not raise itself."""


def allow_fields_up_to(limit: int) -> None:
    """Raise the csv module's field limit (128 KiB by default) to `limit`; never lowers it.

    Fields are bounded by `CsvRows` itself, which rejects a longer field by its own rule."""
    if csv.field_size_limit() < limit:
        csv.field_size_limit(min(limit, MAX_FIELD_LIMIT))


class CsvRows:
    """The rows of a CSV byte stream; see the module docstring.

    Set `width` to the header's number of fields once it is known: while resynchronising,
    only a line that parses into that many fields ends a rejection.
    """

    def __init__(
        self,
        fh: BinaryIO,
        *,
        delimiter: str = ",",
        max_row_bytes: int,
        max_field_bytes: int,
    ) -> None:
        self._fh = fh
        self._delimiter = delimiter
        self.max_row_bytes = max_row_bytes
        self.max_field_bytes = max_field_bytes
        self.width: int | None = None
        self._line_no = 0
        # Lines read ahead by a failed attempt, to be read again: (line number, bytes or
        # None for a line longer than the row limit).
        self._back: deque[tuple[int, bytes | None]] = deque()
        self._taken: list[tuple[int, bytes | None]] = []
        self._size = 0
        self._notes: list[str] = []
        allow_fields_up_to(max_row_bytes)
        self._reader = csv.reader(self, delimiter=delimiter, quotechar='"', strict=True)

    # -- physical lines ------------------------------------------------------------------

    def _next_line(self) -> tuple[int, bytes | None] | None:
        if self._back:
            return self._back.popleft()
        piece = self._fh.readline(self.max_row_bytes + 1)
        if not piece:
            return None
        self._line_no += 1
        if self._line_no == 1:
            piece = piece.removeprefix(BOM)
        if len(piece) > self.max_row_bytes and not piece.endswith(b"\n"):
            while piece and not piece.endswith(b"\n"):
                piece = self._fh.readline(SKIP_CHUNK)
            return self._line_no, None
        return self._line_no, piece

    # The csv reader's iterator: hands it one physical line at a time for the current row.
    def __iter__(self) -> CsvRows:
        return self

    def __next__(self) -> str:
        item = self._next_line()
        if item is None:
            raise StopIteration
        self._taken.append(item)
        line_no, data = item
        if data is None:
            raise _Failed(f"row is longer than {self.max_row_bytes} bytes")
        self._size += len(data)
        if self._size > self.max_row_bytes:
            raise _Failed(f"row is longer than {self.max_row_bytes} bytes")
        if len(self._taken) > 1 and self._size - self._first_size > self.max_field_bytes:
            # Every line after the first is inside one quoted field, so the field is longer.
            raise _Failed(f"a quoted field is longer than {self.max_field_bytes} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._notes.append(
                f"invalid UTF-8 replaced (line {line_no}, first at byte {exc.start})"
            )
            return data.decode("utf-8", errors="replace")

    @property
    def _first_size(self) -> int:
        data = self._taken[0][1]
        return len(data) if data is not None else 0

    # -- rows ----------------------------------------------------------------------------

    def _attempt(self) -> tuple[list[str] | None, str | None] | None:
        """Parse one row from the next line: (fields, None), (None, problem), or None at the
        end of the file. The lines it used are in `_taken`."""
        self._taken = []
        self._size = 0
        self._notes = []
        try:
            fields = next(self._reader)
        except StopIteration:
            return None
        except _Failed as exc:
            return None, str(exc)
        except csv.Error as exc:
            if not self._taken:
                return None
            # The csv module's messages describe the syntax, never the field's text.
            message = f"not valid CSV ({str(exc).split(' - ')[0]})"
            if str(exc) == "unexpected end of data":
                message += ": a quote is never closed"
            return None, message
        if any(len(f) > self.max_field_bytes for f in fields) and any(
            len(f.encode()) > self.max_field_bytes for f in fields
        ):
            return None, f"a field is longer than {self.max_field_bytes} bytes"
        return fields, None

    def __call__(self) -> Iterator[CsvRow]:
        """The rows and rejections, in file order."""
        open_from = 0  # first line of the rejection being extended, 0 if none
        open_to = 0
        open_problem = ""
        fragments = False
        reparsed = 0

        def close() -> CsvRow:
            where = f" (lines {open_from}-{open_to} skipped)" if open_to > open_from else ""
            return CsvRow(open_from, open_to, None, open_problem + where)

        while True:
            attempt = self._attempt()
            if attempt is None:
                if open_from:
                    yield close()
                return
            fields, problem = attempt
            first, last = self._taken[0][0], self._taken[-1][0]
            overlong_line = self._taken[0][1] is None
            quoted = any(data is not None and b'"' in data for _, data in self._taken)
            if problem is None and self.width is not None and (open_from or quoted):
                # A row of the wrong width holding a quote may have its quoting broken (its
                # lines may belong elsewhere), so it is resynchronised like a parse error; one
                # without quotes is a plain ragged row for the caller to reject.
                row = CsvRow(first, last, fields)
                if not row.blank and len(fields or []) != self.width:
                    problem = f"row has {len(fields or [])} fields, the header has {self.width}"
            if problem is None:
                if open_from:
                    yield close()
                    open_from = 0
                yield CsvRow(first, last, fields, None, tuple(self._notes))
                continue
            # A line that does not parse right after a failed row holding a quote may be a
            # piece of it (where it ends is unknown once its quoting is broken): it joins that
            # rejection. A line too long to read is a line of its own.
            if open_from and fragments and not overlong_line:
                open_to = first
            else:
                if open_from:
                    yield close()
                open_from = open_to = first
                open_problem = problem
                # Only a row holding a quote can have lost its end to broken quoting.
                fragments = quoted
                reparsed = 0
            # Read again from the line after this attempt's first line.
            self._back.extendleft(reversed(self._taken[1:]))
            reparsed += self._size
            if reparsed > RESYNC_BUDGET * self.max_field_bytes:
                open_to = self._skip_to_end()
                open_problem += "; the rest of the file could not be resynchronised"
                yield close()
                return

    def _skip_to_end(self) -> int:
        last = self._line_no
        while (item := self._next_line()) is not None:
            last = item[0]
        return last
