"""The firm's own registers: clients (names, aliases, accounts), the restricted list, and term
lists such as the special-category terms, matched with Aho-Corasick automata.

One automaton per register finds every listed name in one pass over the text, however many
names there are: a register of 100,000 clients loads in a few seconds and costs about as much
per text as a register of ten. Matching is on a normalized copy of the text (case-folded unless
a term asks for its case, whitespace runs as one space, typographic apostrophes as `'`) whose
offsets map back to the original, so a name split over a line break or written in capitals is
found, and a match counts only as whole words ("Project Kestrel", not "kestrels"; "Acme's"
is Acme). Account numbers are matched on their letters and digits alone, so "1234-567890",
"1234567890" and "1234 5678 90" are the same account.

Loading errors name the file and the line; they never quote a register's content beyond the
column names.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import ahocorasick

from auditor.errors import ScanError

RESTRICTED_KINDS = ("codename", "issuer", "ticker", "other")
# Separators people put inside account numbers; anything else ends a number.
ACCOUNT_SEPARATORS = frozenset(" -./\u00a0\u2010\u2011\u2012\u2013")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_SPACE_RUN = re.compile(r"\s+")
_NOT_ACCOUNT_CHAR = re.compile(r"[^A-Za-z0-9]")
# A separator with a letter or digit (str.isalnum, which is what \w less "_" is) either side.
_INNER_SEPARATOR = re.compile(
    "(?<=[^\\W_])[" + re.escape("".join(sorted(ACCOUNT_SEPARATORS))) + "](?=[^\\W_])"
)
MIN_ACCOUNT_CHARS = 5  # shorter "accounts" would match ordinary numbers


@dataclass(frozen=True, slots=True)
class TermMatch:
    """A whole-word occurrence of a listed term: original offsets and what the term maps to."""

    start: int
    end: int
    subject: str


def normalize_term(text: str, keep_case: bool = False) -> str:
    """The form terms and texts are compared in: whitespace runs as one space, case-folded."""
    return _normalize(text, keep_case)[0]


@lru_cache(maxsize=8)
def _normalize(text: str, keep_case: bool) -> tuple[str, list[int]]:
    """Normalized text and, for each of its characters, the offset of the original character.

    Cached: the client-name, restricted-list and special-category recognizers normalize the
    same text one after another. Callers must not change the returned list.
    """
    text = text.translate(_APOSTROPHES)
    low = text if keep_case else text.lower()
    # Whole-string lowercasing equals the per-character one unless a character lowercases to
    # several (İ) or by context (final sigma): then character by character.
    if len(low) != len(text) or (not keep_case and "\u03a3" in text):
        return _normalize_by_character(text, keep_case)
    out: list[str] = []
    index: list[int] = []
    pos = 0
    for run in _SPACE_RUN.finditer(low):
        start, end = run.span()
        if start > pos:
            out.append(low[pos:start])
            index.extend(range(pos, start))
        if start and end < len(low):  # inner run: one space; leading and trailing: none
            out.append(" ")
            index.append(start)
        pos = end
    if pos < len(low):
        out.append(low[pos:])
        index.extend(range(pos, len(low)))
    return "".join(out), index


def _normalize_by_character(text: str, keep_case: bool) -> tuple[str, list[int]]:
    """`_normalize` one character at a time (the reference the fast path is tested against)."""
    out: list[str] = []
    index: list[int] = []
    text = text.translate(_APOSTROPHES)
    in_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not in_space and out:
                out.append(" ")
                index.append(i)
            in_space = True
            continue
        in_space = False
        low = ch if keep_case else ch.lower()
        if len(low) != 1:  # e.g. "İ".lower() is two characters: keep offsets one to one
            low = ch
        out.append(low)
        index.append(i)
    while out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


class TermMatcher:
    """Whole-word matching of many terms at once; each term maps to a subject (e.g. a client id).

    Terms added with `keep_case` match only as written (tickers); the others in any case.
    """

    def __init__(self) -> None:
        self._folded: ahocorasick.Automaton = ahocorasick.Automaton()
        self._cased: ahocorasick.Automaton = ahocorasick.Automaton()
        self._sizes = [0, 0]
        self._frozen = False

    def add(self, term: str, subject: str, keep_case: bool = False) -> bool:
        """Add `term` for `subject`; False if it normalizes to nothing (then nothing is added)."""
        key = normalize_term(term, keep_case)
        if not key:
            return False
        automaton = self._cased if keep_case else self._folded
        found = automaton.get(key, None)
        subjects: tuple[str, ...] = found[1] if found else ()
        if subject not in subjects:
            automaton.add_word(key, (len(key), (*subjects, subject)))
        self._sizes[int(keep_case)] += 0 if found else 1
        self._frozen = False
        return True

    def __len__(self) -> int:
        return sum(self._sizes)

    def _freeze(self) -> None:
        for automaton, size in zip((self._folded, self._cased), self._sizes, strict=True):
            if size:
                automaton.make_automaton()
        self._frozen = True

    def find(self, text: str) -> list[TermMatch]:
        """Every whole-word occurrence of a term in `text`, longest first where they overlap."""
        if not self._frozen:
            self._freeze()
        found: list[tuple[int, int, tuple[str, ...]]] = []
        for keep_case, automaton, size in (
            (False, self._folded, self._sizes[0]),
            (True, self._cased, self._sizes[1]),
        ):
            if not size:
                continue
            norm, index = _normalize(text, keep_case)
            for end, (length, subjects) in automaton.iter(norm):
                start = end - length + 1
                if not _whole_word(norm, start, end + 1):
                    continue
                found.append((index[start], index[end] + 1, subjects))
        return [
            TermMatch(start, end, subject)
            for start, end, subjects in _longest(found)
            for subject in subjects
        ]


def _whole_word(text: str, start: int, end: int) -> bool:
    # A term starting or ending in a non-word character (e.g. "C++") needs no boundary there.
    before_ok = start == 0 or not (_is_word(text[start - 1]) and _is_word(text[start]))
    after_ok = end == len(text) or not (_is_word(text[end - 1]) and _is_word(text[end]))
    return before_ok and after_ok


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _longest(
    found: list[tuple[int, int, tuple[str, ...]]],
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Drops matches inside a longer one ("Acme" inside "Acme Holdings")."""
    found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    kept: list[tuple[int, int, tuple[str, ...]]] = []
    reach = -1
    for m in found:
        if m[1] <= reach:
            continue  # inside (or equal to) a longer match that starts no later
        if kept and m[0] < kept[-1][1] and (m[1] - m[0]) <= (kept[-1][1] - kept[-1][0]):
            continue  # overlaps a longer or equal earlier match
        kept.append(m)
        reach = max(reach, m[1])
    return kept


class AccountMatcher:
    """Account numbers matched on their letters and digits, whatever separators are written."""

    def __init__(self) -> None:
        self._automaton: ahocorasick.Automaton = ahocorasick.Automaton()
        self._size = 0
        self._frozen = False

    def add(self, account: str, subject: str) -> bool:
        """Add an account for `subject`; False if it has too few letters and digits to match."""
        key = "".join(ch for ch in account.upper() if ch.isalnum())
        if len(key) < MIN_ACCOUNT_CHARS:
            return False
        found = self._automaton.get(key, None)
        subjects: tuple[str, ...] = found[1] if found else ()
        if subject not in subjects:
            self._automaton.add_word(key, (len(key), (*subjects, subject)))
        self._size += 0 if found else 1
        self._frozen = False
        return True

    def __len__(self) -> int:
        return self._size

    def find(self, text: str) -> list[TermMatch]:
        """Every occurrence of a listed account in `text` that is a whole number by itself."""
        if not self._size:
            return []
        if not self._frozen:
            self._automaton.make_automaton()
            self._frozen = True
        stream, index = _account_stream(text)
        found = []
        for end, (length, subjects) in self._automaton.iter(stream):
            start = end - length + 1
            lo, hi = index[start], index[end] + 1
            if _continues(text, lo, -1) or _continues(text, hi - 1, 1):
                continue
            found.append((lo, hi, subjects))
        return [TermMatch(s, e, subj) for s, e, subjects in _longest(found) for subj in subjects]


def _account_stream(text: str) -> tuple[str, list[int]]:
    """Letters and digits of `text`, upper-cased; a single separator between two of them is
    dropped, anything else becomes a break (NUL)."""
    stream = _NOT_ACCOUNT_CHAR.sub("\x00", text).upper()  # ASCII and NUL: length kept
    out: list[str] = []
    index: list[int] = []
    pos = 0
    for dropped in _INNER_SEPARATOR.finditer(text):
        i = dropped.start()
        out.append(stream[pos:i])
        index.extend(range(pos, i))
        pos = i + 1
    out.append(stream[pos:])
    index.extend(range(pos, len(text)))
    return "".join(out), index


def _account_stream_by_character(text: str) -> tuple[str, list[int]]:
    """`_account_stream` one character at a time (the reference it is tested against)."""
    out: list[str] = []
    index: list[int] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch.isalnum() and ch.isascii():
            out.append(ch.upper())
            index.append(i)
        elif (
            ch in ACCOUNT_SEPARATORS
            and 0 < i < n - 1
            and text[i - 1].isalnum()
            and text[i + 1].isalnum()
        ):
            continue
        else:
            out.append("\x00")
            index.append(i)
    return "".join(out), index


def _continues(text: str, pos: int, step: int) -> bool:
    """Whether the token at `pos` goes on past it (step -1: to the left, 1: to the right): the
    next character is a letter or digit, or a separator followed by a digit after a digit."""
    nxt = pos + step
    if not 0 <= nxt < len(text):
        return False
    if text[nxt].isalnum():
        return True
    after = nxt + step
    return (
        text[nxt] in ACCOUNT_SEPARATORS
        and 0 <= after < len(text)
        and text[pos].isdigit()
        and text[after].isdigit()
    )


# --- registers from CSV ---------------------------------------------------------------------


@dataclass
class ClientRegister:
    """Client names and aliases, and client accounts, each mapped to the client id."""

    names: TermMatcher = field(default_factory=TermMatcher)
    accounts: AccountMatcher = field(default_factory=AccountMatcher)
    clients: int = 0
    digest: str = ""  # SHA-256 of the file: the scanner revision changes with the register

    @property
    def name_count(self) -> int:
        return len(self.names)


@dataclass
class TermList:
    """Terms (restricted list, special categories) mapped to their kind or category."""

    terms: TermMatcher = field(default_factory=TermMatcher)
    digest: str = ""


def _rows(path: Path, required: tuple[str, ...], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScanError(
            f"cannot read the {what} {path}: {exc.strerror}", f"check scan.{what}"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScanError(f"the {what} {path} is not UTF-8", "save it as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ScanError(
            f"the {what} {path} lacks column(s) {', '.join(missing)}",
            f"the first line must name the columns {','.join(required)}",
        )
    reader.fieldnames = header
    for row in reader:
        if None in row:
            raise ScanError(
                f"line {reader.line_num} of the {what} {path} has more fields than columns",
                "quote values that contain commas",
            )
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def load_client_register(path: Path) -> ClientRegister:
    """Read a client register CSV (`client_id,name,aliases,accounts`; lists separated by `|`).

    Raises ScanError naming the file and line for an unreadable file, a missing column, or a
    row without a client id or name.
    """
    register = ClientRegister()
    for line, row in _rows(path, ("client_id", "name", "aliases", "accounts"), "client_register"):
        client_id, name = row["client_id"], row["name"]
        if not client_id or not name:
            raise ScanError(
                f"line {line} of the client_register {path} has no client_id or name",
                "every row needs both",
            )
        register.clients += 1
        for term in (name, *_split(row["aliases"])):
            register.names.add(term, client_id)
        for account in _split(row["accounts"]):
            if not register.accounts.add(account, client_id):
                raise ScanError(
                    f"line {line} of the client_register {path} lists an account with fewer "
                    f"than {MIN_ACCOUNT_CHARS} letters and digits",
                    "list full account numbers",
                )
    register.digest = _digest(path)
    return register


def load_restricted_list(path: Path) -> TermList:
    """Read a restricted list CSV (`term,kind,note`; kind codename, issuer, ticker or other).

    Tickers match only as written (upper case); other terms in any case. Raises ScanError
    naming the file and line for an unreadable file, a missing column, an empty term or an
    unknown kind.
    """
    terms = TermList()
    for line, row in _rows(path, ("term", "kind", "note"), "restricted_list"):
        kind = row["kind"].lower() or "other"
        if kind not in RESTRICTED_KINDS:
            raise ScanError(
                f"line {line} of the restricted_list {path} has an unknown kind",
                f"kind is one of {', '.join(RESTRICTED_KINDS)}",
            )
        if not row["term"] or not terms.terms.add(row["term"], kind, keep_case=kind == "ticker"):
            raise ScanError(f"line {line} of the restricted_list {path} has no term")
    terms.digest = _digest(path)
    return terms


def load_term_list(path: Path, pairs: Iterable[tuple[str, str]] | None = None) -> TermList:
    """A case-insensitive term list from `pairs` (term, category), or from a CSV `term,category`
    at `path`. Raises ScanError naming the file and line as the other loaders do."""
    terms = TermList()
    if pairs is None:
        pairs = ((r["term"], r["category"]) for _, r in _rows(path, ("term", "category"), "terms"))
    for term, category in pairs:
        if not terms.terms.add(term, category or "other"):
            raise ScanError(f"an empty term in {path}", "remove empty lines")
    terms.digest = _digest(path)
    return terms


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = [
    "AccountMatcher",
    "ClientRegister",
    "TermList",
    "TermMatch",
    "TermMatcher",
    "load_client_register",
    "load_restricted_list",
    "load_term_list",
    "normalize_term",
]
