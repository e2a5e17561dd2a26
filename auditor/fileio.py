"""Owner-only files written whole: the one way the auditor replaces a file it produces.

Reports, exports, bundles and decision logs carry masked evidence or the rule pack, so they
are created 0600 and appear only complete: written under a temporary name beside the target,
flushed to disk, then renamed over it. A failure leaves any earlier file untouched and no
temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_file(target: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A file to write `target`'s new content to (text in UTF-8, or bytes), 0600, renamed
    over `target` when the block ends without an exception. Raises OSError (the directory
    must exist and be writable)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp already creates 0600; said again so a changed umask or platform cannot widen it.
        os.fchmod(fd, 0o600)
        handle = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A CSV text cell that a spreadsheet will not run as a formula: a leading "'" (the usual
    defence, and the text stays readable) before any formula character. Values come from
    logs an employee influences."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value
