"""Labelled synthetic bank prompts for the accuracy harness (benchmarks/accuracy.py).

Texts are built from templates with Faker values whose character spans are recorded as they are
placed, so every label is exact. Two disjoint template sets make two splits: `dev` (the one to
look at while tuning recognizers) and `test` (the one the README reports). Values are drawn
from the same providers in both; the sentences around them, and so the context words, differ.

The firm's registers are generated with the corpus: a client register (companies, funds and
private clients, with aliases and accounts) and a restricted list (deal code names, issuers,
tickers), which the harness writes to CSV files and configures like a bank would.

Identifiers with check digits (card, IBAN, ISIN, CUSIP, SEDOL, ABA) are computed here with
their own small implementations, independent of the recognizers under test.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

FIRM_NAME = "Northbridge Bank"
FIRM_DOMAIN = "northbridge-bank.example"
DESKS = ("Rates Desk", "FX Desk", "Credit Trading", "Equity Derivatives", "Treasury Ops")
PUBLIC_COMPANIES = (
    "Microsoft",
    "Apple",
    "JPMorgan Chase",
    "Goldman Sachs",
    "Amazon",
    "BlackRock",
    "Tesla",
    "Morgan Stanley",
    "Siemens",
    "Nestlé",
)
ISSUER_SUFFIXES = ("Maritime ASA", "Minerals plc", "Biotech AG", "Energy Corp")
CODENAME_WORDS = str.split(
    "Kestrel Osprey Heron Bluefin Marlin Juniper Cedar Falcon Harrier Merlin Puffin Otter "
    "Lynx Granite Basalt Willow Aspen Sparrow Condor Pelican Tern Plover Curlew Sequoia"
)


@dataclass(frozen=True)
class Span:
    """A labelled value: character offsets, entity type, and the register id for client data."""

    start: int
    end: int
    entity_type: str
    subject: str | None = None


@dataclass
class Sample:
    id: str
    text: str
    spans: list[Span]
    template: str


@dataclass
class Client:
    client_id: str
    name: str
    aliases: list[str]
    accounts: list[str]
    individual: bool


@dataclass
class Corpus:
    samples: list[Sample]
    clients: list[Client]
    restricted: list[tuple[str, str, str]]  # term, kind, note
    allow_list: list[str] = field(default_factory=list)
    allow_domains: list[str] = field(default_factory=list)


# --- check-digit helpers (independent of auditor.scan) --------------------------------------


def luhn_complete(digits: str) -> str:
    """`digits` plus the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return digits + str((10 - total % 10) % 10)


def _char_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch.upper()) - 55


def isin(rng: random.Random) -> str:
    country = rng.choice(["US", "GB", "DE", "FR", "NL", "CH", "JP", "IE", "LU"])
    body = country + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(9))
    expanded = "".join(str(_char_value(c)) for c in body)
    return body + luhn_complete(expanded)[-1]


def cusip(rng: random.Random) -> str:
    body = "".join(rng.choice(string.digits) for _ in range(3)) + "".join(
        rng.choice(string.ascii_uppercase + string.digits) for _ in range(5)
    )
    total = 0
    for i, ch in enumerate(body):
        v = _char_value(ch)
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return body + str((10 - total % 10) % 10)


def sedol(rng: random.Random) -> str:
    alphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZ"
    body = "".join(rng.choice(alphabet) for _ in range(6))
    weights = (1, 3, 1, 7, 3, 9)
    total = sum(_char_value(c) * w for c, w in zip(body, weights, strict=True))
    return body + str((10 - total % 10) % 10)


def aba(rng: random.Random) -> str:
    first = rng.choice(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"])
    body = first + "".join(rng.choice(string.digits) for _ in range(6))
    w = (3, 7, 1, 3, 7, 1, 3, 7)
    total = sum(int(c) * x for c, x in zip(body, w, strict=True))
    return body + str((10 - total % 10) % 10)


def swift(rng: random.Random) -> str:
    bank = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
    country = rng.choice(["US", "GB", "DE", "FR", "CH", "NL", "SG", "HK", "JP"])
    loc = rng.choice(string.ascii_uppercase) + rng.choice(string.ascii_uppercase + "0123456789")
    branch = rng.choice(["", "", "XXX", "".join(rng.choice(string.ascii_uppercase) for _ in "abc")])
    return bank + country + loc + branch


def card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = luhn_complete(body)
    style = rng.random()
    if style < 0.45:
        return number
    sep = " " if style < 0.8 else "-"
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def iban(fake_by_locale: dict[str, Faker], rng: random.Random) -> str:
    value = fake_by_locale[rng.choice(list(fake_by_locale))].iban()
    if rng.random() < 0.4:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return value if rng.random() < 0.8 else value.replace("-", " ")


def itin(rng: random.Random) -> str:
    group = rng.choice(list(range(70, 89)) + list(range(90, 93)) + list(range(94, 100)))
    return f"9{rng.randint(0, 99):02d}-{group:02d}-{rng.randint(0, 9999):04d}"


def phone(fake: Faker, rng: random.Random) -> str:
    area, mid, last = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice(
        [
            f"({area}) {mid}-{last:04d}",
            f"{area}-{mid}-{last:04d}",
            f"{area}.{mid}.{last:04d}",
            f"+1 {area} {mid} {last:04d}",
            f"+1-{area}-{mid}-{last:04d}",
            f"+44 20 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}",
            f"020 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            f"+49 69 {rng.randint(1000, 9999)} {rng.randint(100, 9999)}",
            fake.phone_number().split("x")[0],
        ]
    )


def credential(rng: random.Random) -> tuple[str, str, str]:
    """(text before, secret, text after): the secret is the labelled part."""
    alnum = string.ascii_letters + string.digits
    kind = rng.randrange(6)
    if kind == 0:
        key = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
        return "", key, ""
    if kind == 1:
        return "", "ghp_" + "".join(rng.choice(alnum) for _ in range(36)), ""
    if kind == 2:
        token = f"xoxb-{rng.randint(10**10, 10**11)}-{rng.randint(10**10, 10**11)}-" + "".join(
            rng.choice(alnum) for _ in range(24)
        )
        return "", token, ""
    if kind == 3:
        lines = ["".join(rng.choice(alnum + "+/") for _ in range(64)) for _ in range(4)]
        block = (
            "-----BEGIN RSA PRIVATE KEY-----\n"
            + "\n".join(lines)
            + "\n-----END RSA PRIVATE KEY-----"
        )
        return "", block, ""
    if kind == 4:
        user = rng.choice(["svc_trades", "app", "report_ro", "etl"])
        pw = "".join(rng.choice(alnum + "!#%") for _ in range(rng.randint(10, 18)))
        host = rng.choice(["db01.internal", "10.20.3.4", "pg-prod.northbridge.local"])
        scheme = rng.choice(["postgresql", "mysql", "mongodb", "redis"])
        return f"{scheme}://{user}:", pw, f"@{host}:5432/trades"
    return "", "sk_live_" + "".join(rng.choice(alnum) for _ in range(28)), ""


SPECIAL_TERMS = (
    "diabetes",
    "type 2 diabetes",
    "HIV",
    "cancer",
    "chemotherapy",
    "clinical depression",
    "bipolar disorder",
    "pregnant",
    "Muslim",
    "Catholic",
    "Jewish",
    "Hindu",
    "trade union member",
    "union representative",
    "gay",
    "lesbian",
    "bisexual",
    "epilepsy",
    "multiple sclerosis",
    "Labour Party member",
    "schizophrenia",
)


# --- the registers --------------------------------------------------------------------------


def make_clients(fake: Faker, rng: random.Random, n: int) -> list[Client]:
    clients: list[Client] = []
    seen: set[str] = set()
    while len(clients) < n:
        cid = f"C{len(clients) + 1:04d}"
        individual = rng.random() < 0.3
        if individual:
            name = f"{fake.first_name()} {fake.last_name()}"
            office = f"{name.split()[1]} Family Office"
            aliases = [office] if rng.random() < 0.4 and office.casefold() not in seen else []
            seen.update(a.casefold() for a in aliases)
        else:
            base = fake.last_name()
            second = fake.last_name() if rng.random() < 0.5 else rng.choice(CODENAME_WORDS)
            suffix = rng.choice(
                ["Holdings", "Capital LLC", "Partners LP", "Industries Inc.", "Asset Management"]
            )
            name = f"{base} {second} {suffix}"
            aliases = [f"{base} {second}"]
            acronym = f"{base[0]}{second[0]}{suffix[0]}".upper() + " Group"
            if rng.random() < 0.5 and acronym.casefold() not in seen:
                seen.add(acronym.casefold())
                aliases.append(acronym)
        if name.casefold() in seen:
            continue
        seen.add(name.casefold())
        accounts = []
        for _ in range(rng.randint(1, 3)):
            style = rng.randrange(3)
            if style == 0:
                accounts.append(f"{rng.randint(1000, 9999)}-{rng.randint(100000, 999999)}")
            elif style == 1:
                accounts.append(f"NB{rng.randint(10**7, 10**8 - 1)}")
            else:
                accounts.append(str(rng.randint(10**9, 10**10 - 1)))
        clients.append(Client(cid, name, aliases, accounts, individual))
    return clients


def make_restricted(fake: Faker, rng: random.Random) -> list[tuple[str, str, str]]:
    words = rng.sample(CODENAME_WORDS, 12)
    terms = [(f"Project {w}", "codename", "M&A mandate") for w in words]
    for _ in range(8):
        terms.append(
            (
                f"{fake.last_name()} {rng.choice(ISSUER_SUFFIXES)}",
                "issuer",
                "watch list",
            )
        )
    for _ in range(6):
        terms.append(("".join(rng.choice(string.ascii_uppercase) for _ in range(4)), "ticker", ""))
    return terms


# --- templates ------------------------------------------------------------------------------
# `{TYPE}` slots are filled with a labelled value; `{neg:KIND}` slots with an unlabelled hard
# negative. DEV and TEST share no sentence.

DEV_TEMPLATES = (
    "Draft an email to {PERSON} ({EMAIL_ADDRESS}) confirming the meeting on Tuesday.",
    "Customer {PERSON} called from {PHONE_NUMBER} about a declined card ending in the last "
    "four of {CREDIT_CARD}.",
    "Please verify SSN {US_SSN} for the applicant {PERSON}.",
    "Wire the funds to IBAN {IBAN_CODE}, beneficiary {PERSON}.",
    "The server at {IP_ADDRESS} keeps timing out when {PERSON} logs in.",
    "Update the mailing address for {PERSON} to {STREET_ADDRESS}.",
    "Summarise the exposure to {CLIENT_NAME} across all desks.",
    "Why did the payment to account {CLIENT_ACCOUNT} bounce?",
    "Prepare talking points on {RESTRICTED_TERM} for the committee.",
    "Write a pitch for {CLIENT_NAME} and mention the {neg:public} relationship.",
    "Compare the bond {ISIN} with CUSIP {CUSIP} on yield.",
    "SEDOL {SEDOL} is trading below NAV, explain why.",
    "Send the payment via SWIFT {SWIFT_CODE}, routing number {ABA_ROUTING_NUMBER}.",
    "My ITIN is {US_ITIN}, can you fill in the W-7?",
    "This config fails: {CREDENTIAL}",
    "{PERSON} told me she has {SPECIAL_CATEGORY} and needs time off.",
    "Translate this for {PERSON}: our branch is at {STREET_ADDRESS}.",
    "Fix this Python: `for row in rows: print(row['id'])`  # ticket {neg:ticket}",
    "What do {neg:kestrel} eat in winter?",
    "Explain the {neg:public} earnings beat in two sentences.",
    "Card {CREDIT_CARD} was charged twice, please call {PERSON} at {PHONE_NUMBER}.",
    "Reconcile {CLIENT_ACCOUNT} against the statement sent to {EMAIL_ADDRESS}.",
    "Is {CLIENT_NAME} still under review for {RESTRICTED_TERM}?",
    "commit {neg:sha} broke the build, see {neg:ticket}",
    "Format as a table: {neg:numbers}",
)

TEST_TEMPLATES = (
    "Hi, can you help me write a follow-up note to {PERSON}? Her email is {EMAIL_ADDRESS} and "
    "her mobile is {PHONE_NUMBER}.",
    "Client called in: name {PERSON}, DOB 04/12/1978, SSN {US_SSN}, card {CREDIT_CARD}. "
    "Summarise the complaint.",
    "Beneficiary details:\nName: {PERSON}\nIBAN: {IBAN_CODE}\nAddress: {STREET_ADDRESS}",
    "Our firewall logged repeated attempts from {IP_ADDRESS} against the VPN gateway; "
    "who owns that range?",
    "Rewrite this letter: 'Dear {PERSON}, we have moved your safe deposit box to our branch "
    "at {STREET_ADDRESS}.'",
    "Give me a credit memo outline for {CLIENT_NAME}, focusing on covenant headroom.",
    "Why is {CLIENT_NAME}'s margin call not showing in the dashboard?",
    "Please check these two accounts for duplicate fees: {CLIENT_ACCOUNT} and {CLIENT_ACCOUNT}",
    "Draft board minutes. Item 3: {RESTRICTED_TERM} - valuation range and timetable.",
    "Any news flow on {RESTRICTED_TERM} this week? Keep it to public sources.",
    "I need a one-pager on {CLIENT_NAME}\nand how {neg:public} compares.",
    "Settle the trade in {ISIN} (SEDOL {SEDOL}) against the cash account.",
    "Look up CUSIP {CUSIP} and tell me the coupon.",
    "Incoming wire: BIC {SWIFT_CODE}, ABA {ABA_ROUTING_NUMBER}, reference INV-2291.",
    "Tax form question: the W-8 lists ITIN {US_ITIN}, is that valid for a resident alien?",
    "Debug this connection please:\n{CREDENTIAL}\nit says auth failed.",
    "Write a kind note for {PERSON}, who is starting treatment for {SPECIAL_CATEGORY} next week.",
    "Refactor:\n```\ndef total(xs):\n    return sum(x.amount for x in xs)  # {neg:ticket}\n```",
    "Birdwatching tip: where can I see {neg:kestrel} near the coast?",
    "Compare {neg:public} and {neg:public} on cloud revenue growth.",
    "Explain why my test fails: expected {neg:sha} got {neg:uuid}",
    "Ping {PERSON} at {EMAIL_ADDRESS} or {PHONE_NUMBER} if the card {CREDIT_CARD} dispute "
    "is escalated.",
    "Remittance to {IBAN_CODE} for invoice 4471 was returned, reason code AC01.",
    "Set up a call between {PERSON} and {PERSON} from the {neg:desk}.",
    "Build a SQL query for trades over {neg:numbers} grouped by book.",
    "Account {CLIENT_ACCOUNT} ({CLIENT_NAME}) shows an overdraft, draft the notice.",
    "Escalate: our API key {CREDENTIAL} may have leaked in the {neg:ticket} thread.",
    "Traceroute to {IP_ADDRESS} drops at hop 7; draft a note to the network team.",
    "Ship the replacement card to {STREET_ADDRESS} and text {PHONE_NUMBER} when it goes out.",
)


FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES")


def corpus_sources() -> frozenset[str]:
    """The modules whose lists generate this corpus's values: every Faker provider of the
    locales the generator instantiates (names, addresses, phones, companies, ...)."""
    fake = Faker(list(FAKER_LOCALES))
    return frozenset(
        type(provider).__module__ for loc in FAKER_LOCALES for provider in fake[loc].providers
    )


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[Span] = []

    def add(self, text: str, entity_type: str | None = None, subject: str | None = None) -> None:
        if entity_type is not None and text:
            self.spans.append(Span(self.length, self.length + len(text), entity_type, subject))
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "".join(self.parts)


_SLOT = re.compile(r"\{(neg:)?([A-Za-z_]+)\}")


class _Filler:
    def __init__(self, corpus: Corpus, rng: random.Random, seed: int) -> None:
        self.corpus = corpus
        self.rng = rng
        self.fake = Faker(list(FAKER_LOCALES[:2]))
        self.fake.seed_instance(seed)
        self.by_locale = {loc: Faker(loc) for loc in FAKER_LOCALES[1:]}
        for i, f in enumerate(self.by_locale.values()):
            f.seed_instance(seed + i + 1)
        self.individuals = [c for c in corpus.clients if c.individual]
        self.fillers: dict[str, Callable[[_Builder], None]] = {
            "PERSON": self.person,
            "EMAIL_ADDRESS": lambda b: b.add(self.email(), "EMAIL_ADDRESS"),
            "PHONE_NUMBER": lambda b: b.add(phone(self.fake, rng), "PHONE_NUMBER"),
            "CREDIT_CARD": lambda b: b.add(card(rng), "CREDIT_CARD"),
            "US_SSN": lambda b: b.add(ssn(rng), "US_SSN"),
            "IBAN_CODE": lambda b: b.add(iban(self.by_locale, rng), "IBAN_CODE"),
            "IP_ADDRESS": lambda b: b.add(
                self.fake.ipv4() if rng.random() < 0.8 else self.fake.ipv6(), "IP_ADDRESS"
            ),
            "STREET_ADDRESS": lambda b: b.add(self.street(), "STREET_ADDRESS"),
            "CLIENT_NAME": self.client_name,
            "CLIENT_ACCOUNT": self.client_account,
            "RESTRICTED_TERM": self.restricted,
            "ISIN": lambda b: b.add(isin(rng), "ISIN"),
            "CUSIP": lambda b: b.add(cusip(rng), "CUSIP"),
            "SEDOL": lambda b: b.add(sedol(rng), "SEDOL"),
            "SWIFT_CODE": lambda b: b.add(swift(rng), "SWIFT_CODE"),
            "ABA_ROUTING_NUMBER": lambda b: b.add(aba(rng), "ABA_ROUTING_NUMBER"),
            "US_ITIN": lambda b: b.add(itin(rng), "US_ITIN"),
            "CREDENTIAL": self.credential,
            "SPECIAL_CATEGORY": lambda b: b.add(rng.choice(SPECIAL_TERMS), "SPECIAL_CATEGORY"),
        }

    def person(self, b: _Builder) -> None:
        r = self.rng.random()
        if r < 0.5:
            name = f"{self.fake.first_name()} {self.fake.last_name()}"
        elif r < 0.65:
            name = self.fake.name()
        elif r < 0.8:
            name = f"{self.rng.choice(['Mr.', 'Ms.', 'Mrs.', 'Dr.'])} {self.fake.last_name()}"
        elif r < 0.9:
            loc = self.rng.choice(list(self.by_locale.values()))
            name = f"{loc.first_name()} {loc.last_name()}"
        else:
            name = f"{self.fake.first_name()} {self.fake.first_name()[0]}. {self.fake.last_name()}"
        b.add(name, "PERSON")

    def email(self) -> str:
        r = self.rng.random()
        if r < 0.6:
            return self.fake.email()
        first, last = self.fake.first_name().lower(), self.fake.last_name().lower()
        domain = self.rng.choice(
            ["gmail.com", "outlook.com", "yahoo.co.uk", self.fake.domain_name()]
        )
        return f"{first}.{last}{self.rng.randint(1, 99) if r < 0.8 else ''}@{domain}"

    def street(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.fake["en_US"].street_address()
        if r < 0.8:
            addr = self.fake["en_US"].address().replace("\n", ", ")
            return addr
        gb = self.fake["en_GB"]
        return f"{self.rng.randint(1, 250)} {gb.street_name()}, {gb.city()} {gb.postcode()}"

    def client_name(self, b: _Builder) -> None:
        client = self.rng.choice(self.corpus.clients)
        name = client.name
        if client.aliases and self.rng.random() < 0.35:
            name = self.rng.choice(client.aliases)
        r = self.rng.random()
        if r < 0.15:
            name = name.lower()
        elif r < 0.2:
            name = name.upper()
        elif r < 0.3 and " " in name:
            name = name.replace(" ", "\n", 1)
        # A client's name is labelled CLIENT_NAME only: the more specific type, which the
        # scanner reports instead of PERSON for the same words.
        b.add(name, "CLIENT_NAME", client.client_id)

    def client_account(self, b: _Builder) -> None:
        client = self.rng.choice(self.corpus.clients)
        acct = self.rng.choice(client.accounts)
        digits = "".join(ch for ch in acct if ch.isalnum())
        r = self.rng.random()
        if r < 0.4:
            value = acct
        elif r < 0.7:
            value = digits
        else:
            value = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
        b.add(value, "CLIENT_ACCOUNT", client.client_id)

    def restricted(self, b: _Builder) -> None:
        term, kind, _ = self.rng.choice(self.corpus.restricted)
        if kind != "ticker" and self.rng.random() < 0.3:
            term = term.lower()
        b.add(term, "RESTRICTED_TERM")

    def credential(self, b: _Builder) -> None:
        before, secret, after = credential(self.rng)
        if not before and self.rng.random() < 0.5:
            before = self.rng.choice(["token = ", "export API_KEY=", "key: "])
        b.add(before)
        b.add(secret, "CREDENTIAL")
        host = re.match(r"@([0-9.]+):", after)
        if host:  # a connection string to an IP address holds one
            b.add("@")
            b.add(host.group(1), "IP_ADDRESS")
            after = after[host.end() - 1 :]
        b.add(after)

    def negative(self, kind: str) -> str:
        rng = self.rng
        if kind == "public":
            return rng.choice(PUBLIC_COMPANIES)
        if kind == "ticket":
            return f"{rng.choice(['PAY', 'OPS', 'RISK', 'INC'])}-{rng.randint(100, 99999)}"
        if kind == "kestrel":
            word = rng.choice(CODENAME_WORDS).lower()
            return word + "s" if not word.endswith("s") else word
        if kind == "sha":
            return "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([7, 40])))
        if kind == "uuid":
            return str(self.fake.uuid4())
        if kind == "desk":
            return rng.choice(DESKS)
        if kind == "numbers":
            return ", ".join(
                f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}.00" for _ in range(3)
            )
        raise ValueError(kind)


def build_corpus(seed: int = 7, per_template: int = 40, split: str = "test") -> Corpus:
    """The labelled corpus: `per_template` texts from each template of `split` (dev or test)."""
    templates = {"dev": DEV_TEMPLATES, "test": TEST_TEMPLATES}[split]
    rng = random.Random(f"{split}:{seed}")
    reg_fake = Faker("en_US")
    reg_fake.seed_instance(seed)
    clients = make_clients(reg_fake, random.Random(seed), 400)
    restricted = make_restricted(reg_fake, random.Random(seed + 1))
    corpus = Corpus(
        samples=[],
        clients=clients,
        restricted=restricted,
        allow_list=[FIRM_NAME, *DESKS, *PUBLIC_COMPANIES],
        allow_domains=[FIRM_DOMAIN],
    )
    filler = _Filler(corpus, rng, seed)
    for t_index, template in enumerate(templates):
        for n in range(per_template):
            b = _Builder()
            pos = 0
            for m in _SLOT.finditer(template):
                b.add(template[pos : m.start()])
                if m.group(1):
                    b.add(filler.negative(m.group(2)))
                else:
                    filler.fillers[m.group(2)](b)
                pos = m.end()
            b.add(template[pos:])
            corpus.samples.append(
                Sample(
                    f"{split}-{t_index:02d}-{n:03d}", b.text(), b.spans, f"{split}-{t_index:02d}"
                )
            )
    return corpus
