"""A top-level JSON array read one element at a time, whatever the file's size.

Exports that write `[` + records joined by `,` + `]` (Langfuse's JSON export, the ChatGPT
Enterprise Compliance API saved as an array) are split into their elements' bytes by scanning
for structure only: strings (a string's whole body, escapes included, in one regular-expression
match), brackets and the commas between elements. Each element is handed whole to the reader,
which parses it with `json.loads`, so a damaged element is one rejection and reading goes on.
An element larger than the cap is skipped without being held in memory. Damage to the array
itself (the file ends inside it, two elements without a comma, data after the closing bracket)
ends reading with `ArrayDamaged`, which names the element where it happened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 16
BOM = b"\xef\xbb\xbf"

_STRUCTURE = re.compile(rb'["{}\[\]]')  # inside a container, commas do not matter
_STRUCTURE_TOP = re.compile(rb'["{}\[\],]')
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_QUOTE = ord('"')
_SPACE = b" \t\r\n"


@dataclass(frozen=True)
class Element:
    """One element of the array: its number (from 1) and its bytes, or None when it was
    larger than the cap (skipped, never held)."""

    number: int
    data: bytes | None


class ArrayDamaged(Exception):
    """The array's own structure is broken at element `number`; reading cannot go on."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(reason)
        self.number = number
        self.reason = reason


class _Scanner:
    def __init__(self, fh: BinaryIO, cap: int, chunk: int) -> None:
        self.fh = fh
        self.cap = cap
        self.chunk = chunk
        self.buf = b""
        self.pos = 0
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.fh.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def next_char(self) -> bytes:
        """The next non-blank byte (not consumed), or b"" at the end of the file."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos : self.pos + 1]
            if not self._fill():
                return b""

    def skip_bom(self) -> None:
        while len(self.buf) - self.pos < len(BOM) and self._fill():
            pass
        if self.buf.startswith(BOM, self.pos):
            self.pos += len(BOM)

    def element(self) -> tuple[bytes | None, bool]:
        """Consume one element: (its bytes, or None if larger than the cap; complete?)."""
        parts: list[bytes] = []
        size = 0
        depth = 0
        in_string = False
        start = self.pos

        def keep(end: int) -> None:
            nonlocal size, parts
            size += end - start
            if size <= self.cap:
                parts.append(self.buf[start:end])
            else:
                parts = []

        while True:
            if in_string:
                end = _STRING_BODY.match(self.buf, self.pos).end()  # type: ignore[union-attr]
                if end < len(self.buf) and self.buf[end] == _QUOTE:
                    in_string = False
                    self.pos = end + 1
                    if depth == 0:
                        break
                    continue
                found = None  # the buffer ends inside the string (perhaps on a backslash)
            else:
                pattern = _STRUCTURE if depth else _STRUCTURE_TOP
                found = pattern.search(self.buf, self.pos)
                end = len(self.buf) if found is None else found.start()
            if found is None:
                keep(end)
                self.pos = end
                if not self._fill():
                    done = not in_string and depth == 0 and size > 0
                    return (b"".join(parts) if size <= self.cap else None), done
                start = self.pos
                continue
            char = found.group()
            if char == b'"':
                in_string = True
                self.pos = found.end()
            elif char in b"{[":
                depth += 1
                self.pos = found.end()
            elif depth == 0:  # `,` or a closing bracket after a bare value: not part of it
                self.pos = found.start()
                break
            else:
                depth -= 1
                self.pos = found.end()
                if depth == 0:
                    break
        keep(self.pos)
        return (b"".join(parts) if size <= self.cap else None), True


def array_elements(
    fh: BinaryIO, cap: int, *, what: str = "record", chunk: int = CHUNK
) -> Iterator[Element]:
    """The elements of the JSON array that `fh` holds from its start (a byte-order mark and
    blanks may come first). `what` names an element in the reasons ("record",
    "conversation"). Raises ArrayDamaged where the array's structure breaks."""
    scan = _Scanner(fh, cap, chunk)
    scan.skip_bom()
    if scan.next_char() != b"[":
        raise ArrayDamaged(1, "not a JSON array")
    scan.pos += 1
    number = 0
    while True:
        char = scan.next_char()
        if char == b"]":
            scan.pos += 1
            if scan.next_char():
                raise ArrayDamaged(number + 1, "unexpected data after the end of the JSON array")
            return
        if not char:
            raise ArrayDamaged(number + 1, "the file ends before the JSON array is closed")
        number += 1
        data, complete = scan.element()
        if not complete:
            raise ArrayDamaged(number, f"the file ends inside a {what} (truncated)")
        yield Element(number, data)
        char = scan.next_char()
        if char == b",":
            scan.pos += 1
        elif not char:
            raise ArrayDamaged(number + 1, "the file ends before the JSON array is closed")
        elif char != b"]":
            raise ArrayDamaged(number + 1, "the JSON array is malformed here (a missing comma?)")
