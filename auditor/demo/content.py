"""Fill prompt and output templates with made-up values, and remember where each planted
sensitive value sits, so the demo knows its own ground truth without running a scanner.

Templates mark slots as `<<name>>` (`<<name2>>` for a second, distinct value of the same kind);
chosen over `{name}` because prompts carry code, JSON and template syntax full of braces.
A slot is either a sensitive value (labelled with its offsets), a plain value (company, date,
amount...) or a macro that expands into more template text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from faker import Faker
from stdnum import luhn

SLOT = re.compile(r"<<([a-z][a-z_]*?)(\d*)>>")

# Slot -> (kind, entity type as a scanner would call it).
SENSITIVE_SLOTS: dict[str, tuple[str, str]] = {
    "client_name": ("client_name", "PERSON"),
    "client_first": ("client_name", "PERSON"),
    "client_last": ("client_name", "PERSON"),
    "client_email": ("email", "EMAIL_ADDRESS"),
    "client_phone": ("phone", "PHONE_NUMBER"),
    "pan": ("card_number", "CREDIT_CARD"),
    "ssn": ("ssn", "US_SSN"),
    "iban": ("iban", "IBAN_CODE"),
    "account_no": ("account_number", "US_BANK_NUMBER"),
    "address": ("address", "LOCATION"),
    "ip": ("ip_address", "IP_ADDRESS"),
    "employee_name": ("employee_name", "PERSON"),
    "employee_first": ("employee_name", "PERSON"),
}
# Not personal data, but what the information barrier protects.
MNPI_SLOTS: dict[str, tuple[str, str]] = {"codename": ("deal_codename", "DEAL_CODENAME")}
LABELLED_SLOTS = {**SENSITIVE_SLOTS, **MNPI_SLOTS}

# Luhn-valid test card numbers published by the card schemes for testing; never real cards.
TEST_PANS = (
    "4111111111111111",
    "5500000000000004",
    "4012888888881881",
    "5105105105105100",
    "4242424242424242",
    "6011111111111117",
    "378282246310005",
    "5555555555554444",
)

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")


@dataclass(frozen=True, slots=True)
class Label:
    """Where a planted value sits in the normalized prompt or output text (never the value)."""

    field: str  # prompt / output
    kind: str
    entity: str
    start: int
    end: int

    @property
    def category(self) -> str:
        return "mnpi" if self.kind == "deal_codename" else "pii"


@dataclass(frozen=True, slots=True)
class Macro:
    """A slot that expands into template text. `sources` lists every text it may produce
    (or draw from), so a template's sensitivity can be known before it is rendered."""

    build: Callable[[Slots], str]
    sources: tuple[str, ...]


def macro(*alternatives: str) -> Macro:
    """A macro that picks one of `alternatives` at random."""
    return Macro(lambda s: s.rng.choice(alternatives), alternatives)


def paired(key: str, pairs: tuple[tuple[str, str], ...]) -> tuple[Macro, Macro]:
    """Two macros that pick the same pair within one interaction: a question and its answer."""
    questions = tuple(q for q, _ in pairs)
    answers = tuple(a for _, a in pairs)
    return (
        Macro(lambda s: questions[s.pick(key, len(pairs))], questions),
        Macro(lambda s: answers[s.pick(key, len(pairs))], answers),
    )


PlainSlots = dict[str, Callable[["Slots"], str]]


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (python-stdnum's, as detection uses)."""
    return digits.isdigit() and luhn.is_valid(digits)


def valid_ssn(ssn: str) -> bool:
    """Whether a formatted SSN has an issuable area, group and serial (no 000/666/9xx)."""
    digits = re.sub(r"\D", "", ssn)
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


@dataclass
class Fakes:
    """Faker instances, each seeded on its own (never the global seed)."""

    us: Faker
    gb: Faker
    de: Faker

    @classmethod
    def seeded(cls, seed: int) -> Fakes:
        fakes = []
        for offset, locale in enumerate(("en_US", "en_GB", "de_DE")):
            fake = Faker(locale)
            fake.seed_instance(seed * 3 + offset)
            fakes.append(fake)
        return cls(*fakes)


@dataclass
class Slots:
    """Values for one interaction's prompt and output: the same slot gives the same value in
    both, so an output can echo a detail of its prompt."""

    rng: random.Random
    fakes: Fakes
    region: str
    days: list[date]
    plain: PlainSlots
    macros: dict[str, Macro]
    values: dict[str, tuple[str, tuple[str, str] | None]] = field(default_factory=dict)
    people: dict[str, tuple[str, str]] = field(default_factory=dict)
    picks: dict[str, int] = field(default_factory=dict)

    def pick(self, key: str, n: int) -> int:
        """An index below `n`, the same for every use of `key` within this interaction."""
        if key not in self.picks:
            self.picks[key] = self.rng.randrange(n)
        return self.picks[key]

    # -- sensitive values ------------------------------------------------------------------

    def _fake_for_region(self) -> Faker:
        return {"UK": self.fakes.gb, "EU": self.fakes.de}.get(self.region, self.fakes.us)

    def person(self, role: str, index: str) -> tuple[str, str]:
        key = role + index
        if key not in self.people:
            fake = self.fakes.us if self.rng.random() < 0.7 else self._fake_for_region()
            self.people[key] = (fake.first_name(), fake.last_name())
        return self.people[key]

    def _email(self, index: str) -> str:
        first, last = (re.sub(r"[^a-z]", "", x.lower()) for x in self.person("client", index))
        local = self.rng.choice(
            (
                f"{first}.{last}",
                f"{first[0]}{last}",
                f"{first}{last}{self.rng.randint(1, 99)}",
                f"{first}_{last}",
            )
        )
        return f"{local}@{self.rng.choice(EMAIL_DOMAINS)}"

    def _phone(self) -> str:
        region = self.region if self.rng.random() < 0.8 else "US"
        formats = {
            "US": ("(%##) %##-####", "%##-%##-####", "+1 %##-%##-####", "%##.%##.####"),
            "UK": ("+44 20 %### ####", "07%## ######", "+44 7%## ######"),
            "EU": ("+49 30 %#######", "+49 1%# #######", "+33 1 %# ## ## ##"),
            "APAC": ("+65 %### ####", "+852 %### ####", "+61 2 %### ####"),
        }[region]
        return self.fakes.us.numerify(self.rng.choice(formats))

    def _pan(self) -> str:
        pan = self.rng.choice(TEST_PANS)
        style = self.rng.choices(("spaces", "dashes", "plain"), weights=(0.5, 0.2, 0.3))[0]
        if style == "plain":
            return pan
        groups = (4, 6, 5) if len(pan) == 15 else (4, 4, 4, 4)
        parts, i = [], 0
        for g in groups:
            parts.append(pan[i : i + g])
            i += g
        return (" " if style == "spaces" else "-").join(parts)

    def _ssn(self) -> str:
        ssn = self.fakes.us.ssn()
        while not valid_ssn(ssn):
            ssn = self.fakes.us.ssn()
        return ssn if self.rng.random() < 0.85 else ssn.replace("-", " ")

    def _iban(self) -> str:
        fake = self.fakes.gb if self.rng.random() < 0.5 else self.fakes.de
        iban = fake.iban()
        if self.rng.random() < 0.5:  # the paper format, in groups of four
            iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def _address(self) -> str:
        if self.region == "UK":
            f = self.fakes.gb
            street = f.street_address().replace("\n", ", ")
            return f"{street}, {f.city()} {f.postcode()}"
        if self.region == "EU":
            f = self.fakes.de
            return f"{f.street_address()}, {f.postcode()} {f.city()}"
        f = self.fakes.us
        return f"{f.street_address()}, {f.city()}, {f.state_abbr()} {f.zipcode()}"

    def _ip(self) -> str:
        fake = self.fakes.us
        return fake.ipv4_private() if self.rng.random() < 0.7 else fake.ipv4_public()

    def _sensitive(self, base: str, index: str) -> str:
        if base in ("client_name", "client_first", "client_last"):
            first, last = self.person("client", index)
            return {"client_name": f"{first} {last}", "client_first": first}.get(base, last)
        if base in ("employee_name", "employee_first"):
            first, last = self.person("employee", index)
            return f"{first} {last}" if base == "employee_name" else first
        if base == "client_email":
            return self._email(index)
        if base == "account_no":
            return str(self.rng.randint(1, 9)) + "".join(
                str(self.rng.randint(0, 9)) for _ in range(self.rng.randint(7, 11))
            )
        return {
            "client_phone": self._phone,
            "pan": self._pan,
            "ssn": self._ssn,
            "iban": self._iban,
            "address": self._address,
            "ip": self._ip,
        }[base]()

    # -- rendering -------------------------------------------------------------------------

    def value(self, base: str, index: str) -> tuple[str, tuple[str, str] | None]:
        key = base + index
        if key not in self.values:
            if base in SENSITIVE_SLOTS:
                self.values[key] = (self._sensitive(base, index), SENSITIVE_SLOTS[base])
            elif base in self.plain:
                label = MNPI_SLOTS.get(base)
                self.values[key] = (self.plain[base](self), label)
            else:
                raise KeyError(f"unknown template slot <<{key}>>")
        return self.values[key]

    def render(self, template: str, field_name: str) -> tuple[str, list[Label]]:
        """The filled text and the labels of the planted values in it."""
        out: list[str] = []
        labels: list[Label] = []
        self._render(template, field_name, out, labels, [0], depth=0)
        return "".join(out), labels

    def _render(
        self,
        template: str,
        field_name: str,
        out: list[str],
        labels: list[Label],
        length: list[int],
        depth: int,
    ) -> None:
        if depth > 8:
            raise RecursionError("template macros nest too deeply")
        pos = 0
        for m in SLOT.finditer(template):
            literal = template[pos : m.start()]
            out.append(literal)
            length[0] += len(literal)
            base, index = m.group(1), m.group(2)
            if base in self.macros:
                expansion = self.macros[base].build(self)
                self._render(expansion, field_name, out, labels, length, depth + 1)
            else:
                text, label = self.value(base, index)
                if label is not None:
                    labels.append(
                        Label(field_name, label[0], label[1], length[0], length[0] + len(text))
                    )
                out.append(text)
                length[0] += len(text)
            pos = m.end()
        out.append(template[pos:])
        length[0] += len(template) - pos


def slot_names(texts: Iterable[str], macros: dict[str, Macro]) -> set[str]:
    """Every slot (by base name) that `texts` can produce, through macros too."""
    seen: set[str] = set()
    stack = list(texts)
    expanded: set[str] = set()
    while stack:
        for m in SLOT.finditer(stack.pop()):
            base = m.group(1)
            seen.add(base)
            if base in macros and base not in expanded:
                expanded.add(base)
                stack.extend(macros[base].sources)
    return seen
