"""The staff of Northbridge Bank, a fictional bank: departments, reporting lines, regions.

Everything here is made up with Faker and a seeded `random.Random`; no real person's data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

from faker import Faker

from auditor.errors import AuditorError

BANK_NAME = "Northbridge Bank"
EMAIL_DOMAIN = "northbridge-bank.example"
CEO_DEPARTMENT = "Executive"
PRIVATE_SIDE = frozenset({"Investment Banking"})
MIN_PEOPLE = 20

CSV_HEADER = (
    "user_id",
    "email",
    "name",
    "department",
    "manager_id",
    "region",
    "title",
    "barrier_side",
    "ai_literacy_done",
    "ai_literacy_completed_on",
)


@dataclass(frozen=True, slots=True)
class Department:
    """How one department is staffed: its share of headcount, where it sits, its titles."""

    name: str
    share: float
    regions: dict[str, float]
    head_title: str
    manager_titles: tuple[str, ...]
    staff_titles: tuple[str, ...]


DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "Technology",
        0.30,
        {"US": 0.40, "UK": 0.25, "EU": 0.15, "APAC": 0.20},
        "Chief Information Officer",
        ("Engineering Manager", "Director, Engineering", "Head of Platform Engineering"),
        (
            "Software Engineer",
            "Senior Software Engineer",
            "Site Reliability Engineer",
            "Data Engineer",
            "QA Engineer",
            "Solutions Architect",
            "DevOps Engineer",
            "Security Engineer",
        ),
    ),
    Department(
        "Operations",
        0.16,
        {"US": 0.40, "UK": 0.25, "EU": 0.10, "APAC": 0.25},
        "Chief Operating Officer",
        ("Operations Manager", "Head of Card Operations", "Payments Operations Lead"),
        (
            "Operations Analyst",
            "Payments Specialist",
            "Reconciliations Analyst",
            "Card Disputes Specialist",
            "KYC Analyst",
            "Settlements Analyst",
        ),
    ),
    Department(
        "Markets",
        0.12,
        {"US": 0.40, "UK": 0.35, "EU": 0.05, "APAC": 0.20},
        "Global Head of Markets",
        ("Managing Director", "Director", "Head of Desk"),
        (
            "Analyst",
            "Associate",
            "Vice President",
            "Sales Trader",
            "Research Analyst",
            "Quantitative Analyst",
        ),
    ),
    Department(
        "Wealth",
        0.12,
        {"US": 0.45, "UK": 0.20, "EU": 0.15, "APAC": 0.20},
        "Head of Wealth Management",
        ("Managing Director", "Market Head", "Team Lead, Private Banking"),
        (
            "Relationship Manager",
            "Client Associate",
            "Wealth Planner",
            "Investment Advisor",
            "Portfolio Manager",
        ),
    ),
    Department(
        "Risk",
        0.10,
        {"US": 0.45, "UK": 0.30, "EU": 0.15, "APAC": 0.10},
        "Chief Risk Officer",
        ("Director, Credit Risk", "Head of Market Risk", "Model Risk Lead"),
        (
            "Credit Risk Analyst",
            "Market Risk Analyst",
            "Model Validation Analyst",
            "Credit Officer",
            "Operational Risk Analyst",
        ),
    ),
    Department(
        "Investment Banking",
        0.09,
        {"US": 0.55, "UK": 0.30, "EU": 0.05, "APAC": 0.10},
        "Global Head of Investment Banking",
        ("Managing Director", "Director"),
        ("Analyst", "Associate", "Vice President", "Senior Associate"),
    ),
    Department(
        "Compliance",
        0.06,
        {"US": 0.45, "UK": 0.30, "EU": 0.15, "APAC": 0.10},
        "Chief Compliance Officer",
        ("Director, Compliance", "Head of Surveillance"),
        (
            "Compliance Officer",
            "AML Investigator",
            "Surveillance Analyst",
            "Regulatory Reporting Analyst",
        ),
    ),
    Department(
        "HR",
        0.05,
        {"US": 0.50, "UK": 0.30, "EU": 0.10, "APAC": 0.10},
        "Chief People Officer",
        ("HR Director", "Head of Talent Acquisition"),
        (
            "HR Business Partner",
            "Talent Acquisition Partner",
            "HR Generalist",
            "Compensation Analyst",
        ),
    ),
)

DEPARTMENT_NAMES = tuple(d.name for d in DEPARTMENTS)


@dataclass(frozen=True, slots=True)
class Person:
    """One row of the people directory, plus what the generator needs to know about them."""

    user_id: str
    email: str
    first_name: str
    last_name: str
    department: str
    manager_id: str | None
    region: str
    title: str
    role: str  # ceo / head / manager / staff
    ai_literacy_done: bool

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def barrier_side(self) -> str:
        return "private" if self.department in PRIVATE_SIDE else "public"


def _department_sizes(rng: random.Random, staff: int) -> dict[str, int]:
    """Split `staff` people over the departments by share (largest remainder, at least 2 each)."""
    raw = {d.name: d.share * staff for d in DEPARTMENTS}
    sizes = {name: max(2, math.floor(value)) for name, value in raw.items()}
    order = sorted(raw, key=lambda n: (raw[n] - math.floor(raw[n]), rng.random()), reverse=True)
    i = 0
    while sum(sizes.values()) < staff:
        sizes[order[i % len(order)]] += 1
        i += 1
    while sum(sizes.values()) > staff:
        largest = max(sizes, key=lambda n: sizes[n])
        sizes[largest] -= 1
    return sizes


def _team_count(members: int) -> int:
    """How many managers a department of `members` (excluding the head) needs for 5-10 reports.

    0 means the department is too small for managers: everyone reports to the head.
    """
    low = math.ceil(members / 11)
    high = members // 6
    if high < 1 or low > high:
        return 0
    return min(max(round(members / 8.5), low), high)


def _team_sizes(rng: random.Random, staff: int, teams: int) -> list[int]:
    sizes = [5] * teams
    rest = staff - 5 * teams
    while rest > 0:
        candidates = [i for i, s in enumerate(sizes) if s < 10]
        sizes[rng.choice(candidates)] += 1
        rest -= 1
    return sizes


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


class _Names:
    """Unique names and e-mail addresses for employees."""

    def __init__(self, fake: Faker) -> None:
        self.fake = fake
        self.emails: set[str] = set()

    def next(self) -> tuple[str, str, str]:
        first, last = self.fake.first_name(), self.fake.last_name()
        local = re.sub(r"[^a-z]", "", first.lower()) + "." + re.sub(r"[^a-z]", "", last.lower())
        email, n = f"{local}@{EMAIL_DOMAIN}", 1
        while email in self.emails:
            n += 1
            email = f"{local}{n}@{EMAIL_DOMAIN}"
        self.emails.add(email)
        return first, last, email


def _literacy(rng: random.Random) -> bool:
    # Most staff have done the AI-literacy training; the rest are what rule R12 looks for.
    return rng.random() < 0.88


def build_people(rng: random.Random, fake: Faker, count: int) -> list[Person]:
    """The whole staff, CEO first: every department has a head reporting to the CEO, managers
    with teams of 5-10 reporting to the head, and staff reporting to a manager of their own
    department. Raises AuditorError if `count` is too small for that structure."""
    if count < MIN_PEOPLE:
        raise AuditorError(
            f"the demo bank needs at least {MIN_PEOPLE} people, got {count}",
            f"pass people >= {MIN_PEOPLE}",
        )
    ids = iter(f"u{n:05d}" for n in sorted(rng.sample(range(1, 100_000), count)))
    names = _Names(fake)
    first, last, email = names.next()
    ceo = Person(
        next(ids),
        email,
        first,
        last,
        CEO_DEPARTMENT,
        None,
        "US",
        "Chief Executive Officer",
        "ceo",
        True,
    )
    people = [ceo]
    sizes = _department_sizes(rng, count - 1)
    for dept in DEPARTMENTS:
        first, last, email = names.next()
        head_region = _pick(rng, {"US": 0.6, "UK": 0.3, "EU": 0.05, "APAC": 0.05})
        head = Person(
            next(ids),
            email,
            first,
            last,
            dept.name,
            ceo.user_id,
            head_region,
            dept.head_title,
            "head",
            True,
        )
        people.append(head)
        members = sizes[dept.name] - 1
        teams = _team_count(members)
        if teams == 0:
            leads = [(head, members)]
        else:
            leads = []
            for team_size in _team_sizes(rng, members - teams, teams):
                first, last, email = names.next()
                manager = Person(
                    next(ids),
                    email,
                    first,
                    last,
                    dept.name,
                    head.user_id,
                    _pick(rng, dept.regions),
                    rng.choice(dept.manager_titles),
                    "manager",
                    _literacy(rng),
                )
                people.append(manager)
                leads.append((manager, team_size))
        for lead, team_size in leads:
            for _ in range(team_size):
                first, last, email = names.next()
                # Teams mostly sit together; a few members work from another hub.
                region = lead.region if rng.random() < 0.8 else _pick(rng, dept.regions)
                people.append(
                    Person(
                        next(ids),
                        email,
                        first,
                        last,
                        dept.name,
                        lead.user_id,
                        region,
                        rng.choice(dept.staff_titles),
                        "staff",
                        _literacy(rng),
                    )
                )
    return people


def _share(*parts: str) -> float:
    """A stable number in [0, 1) from the parts; keeps these facts off the generator's random
    stream, so adding them changed nothing else in the demo."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# Share of trained people whose course completion falls inside the audited month, after
# they had already used AI that month: what the AI-literacy rule's date check finds.
LATE_TRAINING_SHARE = 0.06


def literacy_completed_on(person: Person, period: str) -> str:
    """When the person completed AI-literacy training (YYYY-MM-DD), or "" if they have not.

    Most completed it in the 18 months before the period; a few during the period itself."""
    if not person.ai_literacy_done:
        return ""
    year, month = (int(x) for x in period.split("-"))
    if _share(person.user_id, "late") < LATE_TRAINING_SHARE:
        return f"{year:04d}-{month:02d}-{20 + int(_share(person.user_id, 'day') * 8):02d}"
    months_back = 1 + int(_share(person.user_id, "months") * 18)
    y, m = divmod(year * 12 + month - 1 - months_back, 12)
    return f"{y:04d}-{m + 1:02d}-{1 + int(_share(person.user_id, 'day') * 28):02d}"


def people_csv_text(people: list[Person], period: str = "2026-10") -> str:
    """The directory as an HR extract would give it: CSV, sorted by user_id, '\\n' line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for p in sorted(people, key=lambda p: p.user_id):
        writer.writerow(
            [
                p.user_id,
                p.email,
                p.name,
                p.department,
                p.manager_id or "",
                p.region,
                p.title,
                p.barrier_side,
                "true" if p.ai_literacy_done else "false",
                literacy_completed_on(p, period),
            ]
        )
    return buf.getvalue()


def write_people_csv(people: list[Person], path: Path, period: str = "2026-10") -> Path:
    """Write the directory to `path` (UTF-8) and return it."""
    path.write_text(people_csv_text(people, period), encoding="utf-8", newline="")
    return path
