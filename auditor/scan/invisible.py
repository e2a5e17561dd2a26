"""Zero-width characters inside a value: found through, hashed without, and said in the evidence.

Text pasted from web pages and chat tools carries zero-width spaces and joiners, and someone
who wants a card number or an e-mail address past a scanner can put them between its
characters. They are never part of a value: recognizers see through them, the value is hashed
without them, and the masked excerpt says they were there (`ZERO_WIDTH_NOTE`).
"""

from __future__ import annotations

import re

# Zero-width space, non-joiner, joiner, word joiner, and the byte-order mark used as a
# zero-width no-break space.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
ZERO_WIDTH_RE = re.compile(f"[{ZERO_WIDTH}]")
REMOVE_ZERO_WIDTH = str.maketrans("", "", ZERO_WIDTH)
# Added to a detection's tag in its masked excerpt: "[EMAIL_ADDRESS, zero-width characters]".
ZERO_WIDTH_NOTE = ", zero-width characters"


def has_zero_width(value: str) -> bool:
    return ZERO_WIDTH_RE.search(value) is not None


def without_zero_width(text: str) -> tuple[str, list[int]]:
    """`text` without its zero-width characters, and for each character left (and for the end)
    its offset in `text`, so a span found in the plain text maps back to the original."""
    index = [i for i, ch in enumerate(text) if ch not in ZERO_WIDTH]
    plain = "".join(text[i] for i in index)
    index.append(len(text))
    return plain, index
