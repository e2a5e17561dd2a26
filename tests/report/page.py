"""Reading a rendered report page as a browser would: its CSP and its script elements."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

# Types a browser executes as classic script (an absent or empty type among them).
SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.csp: list[str] = []
        self._open: dict[str, str | None] | None = None
        self._body: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self._open, self._body = found, []
        elif tag == "meta" and (found.get("http-equiv") or "").lower() == (
            "content-security-policy"
        ):
            self.csp.append(found.get("content") or "")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._body.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, "".join(self._body)))
            self._open = None


def parse(html: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(html)
    parser.close()
    return parser


def csp_directives(html: str) -> dict[str, list[str]]:
    """The page's one Content-Security-Policy, as directive -> source list."""
    (policy,) = parse(html).csp
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def executable_scripts(html: str) -> list[str]:
    """Bodies of the script elements a browser would run (data blocks excluded)."""
    return [
        body
        for attrs, body in parse(html).scripts
        if (attrs.get("type") or "").strip().lower() in SCRIPT_TYPES
    ]


def script_admitted(html: str, body: str) -> bool:
    """Whether the page's CSP admits an inline script with exactly this text, by its hash."""
    digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
    return f"'sha256-{digest}'" in csp_directives(html).get("script-src", [])
