"""The bank's reference lists for the demo: a client register and a restricted list, in the
CSV shapes `scan.client_register` and `scan.restricted_list` read.

- `client_register.csv`: `client_id,name,aliases,accounts` (`|`-separated lists). Every
  client the demo's prompts name is a client of the bank, with the account numbers planted
  beside the name, plus a few clients no prompt mentions.
- `restricted_list.csv`: `term,kind,note` (kind codename|issuer|ticker|other): the code names
  of the deals in progress, which the deal-team prompts mention.

All names are made up (Faker, seeded). The ground truth says which planted values are on a
list (`listed_as` in truth/labels.jsonl), never the values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from auditor.demo.phrases import _CODENAMES

# Planted kinds that the reference lists cover, as the scanner's entity types name them.
LISTED_AS = {
    "client_name": "CLIENT_NAME",
    "account_number": "CLIENT_ACCOUNT",
    "deal_codename": "RESTRICTED_TERM",
}
REGISTER_HEADER = ("client_id", "name", "aliases", "accounts")
RESTRICTED_HEADER = ("term", "kind", "note")
UNMENTIONED_CLIENTS = (
    ("Harriet Okonkwo-Vale", "H. Okonkwo-Vale"),
    ("Bartholomew Quist", "Bart Quist"),
    ("Ingrid Solberg-Amari", "I. Solberg-Amari"),
)


class ClientRegister:
    """Clients and their accounts, gathered from the values planted in each interaction."""

    def __init__(self) -> None:
        self._accounts: dict[str, list[str]] = {}

    def add(self, values: Mapping[str, tuple[str, object]]) -> None:
        """Record the clients one interaction names, with the account numbers beside them.
        A second client in the same interaction (`client_name2`) gets no accounts."""
        name = values.get("client_name")
        if name is None:
            return
        accounts = self._accounts.setdefault(name[0], [])
        for key, (value, _label) in values.items():
            if key.startswith("account_no") and value not in accounts:
                accounts.append(value)
        for key, (value, _label) in values.items():
            if key.startswith("client_name") and key != "client_name":
                self._accounts.setdefault(value, [])

    def write(self, path: Path) -> Path:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(REGISTER_HEADER)
        rows = [(name, _alias(name), accounts) for name, accounts in self._accounts.items()]
        rows += [(name, alias, []) for name, alias in UNMENTIONED_CLIENTS]
        for n, (name, alias, accounts) in enumerate(sorted(rows), start=1):
            writer.writerow([f"C-{n:05d}", name, alias, "|".join(accounts)])
        path.write_text(buf.getvalue(), encoding="utf-8", newline="")
        return path


def _alias(name: str) -> str:
    """How colleagues shorten a client's name: initial and surname."""
    first, _, last = name.partition(" ")
    return f"{first[:1]}. {last}" if last else ""


def write_restricted_list(path: Path) -> Path:
    """Every deal code name the demo uses is on the restricted list."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RESTRICTED_HEADER)
    for name in sorted(_CODENAMES):
        writer.writerow([f"Project {name}", "codename", "deal in progress (fictional)"])
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    return path
