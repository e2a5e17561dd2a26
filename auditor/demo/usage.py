"""Who uses which AI tool, when and for what: the plan of interactions, before any text.

Usage is heavy-tailed on purpose (non-users, light, regular and heavy users) so that usage
tiers have something to show. Times fall on working days, in working hours of the person's
region, and are kept in UTC.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from auditor.demo.people import Person

# Tool ids exactly as in policies/data/tools.json.
APPROVED_TOOLS = ("chatgpt-enterprise", "copilot-business", "claude-enterprise", "atlas-internal")
SHADOW_TOOLS = ("perplexity", "chatgpt-free", "deepseek-chat")
TOOLS = APPROVED_TOOLS + SHADOW_TOOLS
# Tools reached directly from the browser: only the web proxy sees them.
WEB_PROXY_TOOLS = frozenset(SHADOW_TOOLS)

TIERS = ("non_user", "light", "regular", "heavy")

# Share of non-users, light, regular and heavy users by department.
TIER_MIX: dict[str, tuple[float, float, float, float]] = {
    "Technology": (0.10, 0.28, 0.37, 0.25),
    "Markets": (0.12, 0.33, 0.38, 0.17),
    "Wealth": (0.15, 0.35, 0.37, 0.13),
    "Operations": (0.18, 0.37, 0.35, 0.10),
    "Risk": (0.15, 0.35, 0.37, 0.13),
    "Investment Banking": (0.15, 0.35, 0.35, 0.15),
    "Compliance": (0.25, 0.42, 0.28, 0.05),
    "HR": (0.25, 0.42, 0.28, 0.05),
    "Executive": (0.0, 1.0, 0.0, 0.0),
}

DEPARTMENT_WORKFLOWS: dict[str, dict[str, float]] = {
    "Technology": {"coding": 0.75, "internal_drafting": 0.15, "research": 0.10},
    "Wealth": {"client_comm": 0.55, "research": 0.18, "marketing": 0.10, "internal_drafting": 0.17},
    "Investment Banking": {
        "deal_team": 0.60,
        "research": 0.20,
        "internal_drafting": 0.10,
        "client_comm": 0.10,
    },
    "HR": {"hr_eval": 0.42, "internal_drafting": 0.45, "marketing": 0.13},
    "Risk": {"credit_decision": 0.45, "research": 0.35, "internal_drafting": 0.10, "coding": 0.10},
    "Markets": {
        "research": 0.45,
        "client_comm": 0.33,
        "marketing": 0.05,
        "internal_drafting": 0.10,
        "coding": 0.07,
    },
    "Operations": {
        "internal_drafting": 0.58,
        "client_comm": 0.25,
        "coding": 0.07,
        "research": 0.10,
    },
    "Compliance": {"internal_drafting": 0.50, "research": 0.42, "client_comm": 0.08},
    "Executive": {"internal_drafting": 0.6, "research": 0.4},
}

# How the bank routes each kind of work among its approved tools.
WORKFLOW_TOOLS: dict[str, dict[str, float]] = {
    "coding": {
        "copilot-business": 0.55,
        "chatgpt-enterprise": 0.2,
        "claude-enterprise": 0.2,
        "atlas-internal": 0.05,
    },
    "client_comm": {"chatgpt-enterprise": 0.5, "claude-enterprise": 0.15, "atlas-internal": 0.35},
    "marketing": {"chatgpt-enterprise": 0.7, "claude-enterprise": 0.2, "atlas-internal": 0.1},
    "deal_team": {"atlas-internal": 0.72, "chatgpt-enterprise": 0.16, "claude-enterprise": 0.12},
    "research": {"chatgpt-enterprise": 0.45, "claude-enterprise": 0.3, "atlas-internal": 0.25},
    "credit_decision": {
        "atlas-internal": 0.65,
        "chatgpt-enterprise": 0.2,
        "claude-enterprise": 0.15,
    },
    "hr_eval": {"atlas-internal": 0.5, "chatgpt-enterprise": 0.35, "claude-enterprise": 0.15},
    "internal_drafting": {
        "chatgpt-enterprise": 0.5,
        "claude-enterprise": 0.2,
        "atlas-internal": 0.3,
    },
}

# Card and payments work is steered to the PCI-scoped internal platform (not always obeyed).
ATLAS_PREFERENCE = {"Operations": 1.4, "Wealth": 1.3}
COPILOT_SEAT_SHARE = {"Technology": 1.0, "Risk": 0.3, "Markets": 0.3, "Operations": 0.2}

REGION_TZ = {
    "US": ZoneInfo("America/New_York"),
    "UK": ZoneInfo("Europe/London"),
    "EU": ZoneInfo("Europe/Berlin"),
    # UTC+8 all year, so 08:00 local is never the previous UTC day.
    "APAC": ZoneInfo("Asia/Singapore"),
}
# Relative chance of a prompt in each local hour (08:00-18:59): a dip at lunch.
HOUR_WEIGHTS = {
    8: 0.5,
    9: 1.2,
    10: 1.4,
    11: 1.3,
    12: 0.6,
    13: 0.9,
    14: 1.3,
    15: 1.3,
    16: 1.1,
    17: 0.7,
    18: 0.25,
}


@dataclass(frozen=True, slots=True)
class Profile:
    """How one person uses AI this period."""

    tier: str
    tool_affinity: dict[str, float]  # multiplier per approved tool, mean 1
    shadow: dict[str, float]  # weight of each unapproved tool they use, if any
    perplexity_account: str  # enterprise_sso (pilot group) or personal


@dataclass(slots=True)
class Turn:
    """One planned interaction: who, when, which tool, which workflow, which conversation."""

    person: Person
    at: datetime  # aware, UTC, whole seconds
    tool: str
    workflow: str
    session_id: str
    turn: int  # 0 opens a conversation; 1.. are follow-ups that resend the history
    account_type: str = "enterprise_sso"


def period_days(period: str) -> list[date]:
    """All dates of a `YYYY-MM` period (the caller validates the format)."""
    year, month = (int(x) for x in period.split("-"))
    return [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]


def working_days(period: str) -> list[date]:
    return [d for d in period_days(period) if d.weekday() < 5]


def _choice(rng: random.Random, weights: dict[str, float]) -> str:
    keys = [k for k, w in weights.items() if w > 0]
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _profile(rng: random.Random, person: Person) -> Profile:
    tier = _choice(rng, dict(zip(TIERS, TIER_MIX[person.department], strict=True)))
    affinity = {tool: rng.gammavariate(2.0, 0.5) for tool in APPROVED_TOOLS}
    affinity["atlas-internal"] *= ATLAS_PREFERENCE.get(person.department, 1.0)
    if rng.random() >= COPILOT_SEAT_SHARE.get(person.department, 0.0):
        affinity["copilot-business"] = 0.0
    shadow: dict[str, float] = {}
    research_heavy = person.department in ("Markets", "Investment Banking", "Risk")
    if rng.random() < (0.14 if research_heavy else 0.07):
        shadow["perplexity"] = rng.uniform(0.15, 0.4)
    if rng.random() < 0.03:
        shadow["chatgpt-free"] = rng.uniform(0.08, 0.2)
    if rng.random() < 0.01:
        shadow["deepseek-chat"] = rng.uniform(0.05, 0.12)
    account = "enterprise_sso" if rng.random() < 0.4 else "personal"
    return Profile(tier, affinity, shadow, account)


def _account_type(tool: str, profile: Profile) -> str:
    if tool == "perplexity":
        return profile.perplexity_account
    return "personal" if tool in ("chatgpt-free", "deepseek-chat") else "enterprise_sso"


def _pick_tool(rng: random.Random, workflow: str, profile: Profile) -> str:
    weights = {
        tool: base * profile.tool_affinity[tool] for tool, base in WORKFLOW_TOOLS[workflow].items()
    }
    if sum(weights.values()) <= 0:  # e.g. coding without a Copilot seat
        weights = {"chatgpt-enterprise": 1.0, "claude-enterprise": 0.6}
    total = sum(weights.values())
    for tool, share in profile.shadow.items():
        boost = 3.0 if (tool == "perplexity" and workflow == "research") else 1.0
        weights[tool] = share * boost * total
    return _choice(rng, weights)


def _active_days(rng: random.Random, tier: str, days: list[date]) -> list[date]:
    n = len(days)
    count = {
        "light": rng.randint(1, 5),
        "regular": rng.randint(6, 14),
        "heavy": rng.randint(min(17, n), n),
    }[tier]
    return sorted(rng.sample(days, min(count, n)))


def _prompts_per_day(rng: random.Random, tier: str) -> int:
    if tier == "light":
        return 1 + (rng.random() < 0.3)
    if tier == "regular":
        return rng.choices((1, 2, 3, 4), weights=(0.5, 0.3, 0.15, 0.05))[0]
    return min(12, max(2, round(rng.lognormvariate(1.0, 0.45))))


def _times(rng: random.Random, day: date, region: str, count: int) -> list[datetime]:
    tz = REGION_TZ[region]
    hours = list(HOUR_WEIGHTS)
    out: set[datetime] = set()
    while len(out) < count:
        hour = rng.choices(hours, weights=[HOUR_WEIGHTS[h] for h in hours])[0]
        local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz)
        out.add(local.astimezone(UTC))
    return sorted(out)


def _session_id(rng: random.Random) -> str:
    return f"sess_{rng.getrandbits(64):016x}"


def _plan_person(
    rng: random.Random, person: Person, profile: Profile, days: list[date]
) -> list[Turn]:
    turns: list[Turn] = []
    workflows = DEPARTMENT_WORKFLOWS[person.department]
    for day in _active_days(rng, profile.tier, days):
        last: Turn | None = None
        for at in _times(rng, day, person.region, _prompts_per_day(rng, profile.tier)):
            follow_up = (
                last is not None
                and at - last.at < timedelta(minutes=25)
                and last.turn < 3
                and rng.random() < 0.55
            )
            if follow_up and last is not None:
                turn = Turn(
                    person,
                    at,
                    last.tool,
                    last.workflow,
                    last.session_id,
                    last.turn + 1,
                    last.account_type,
                )
            else:
                workflow = _choice(rng, workflows)
                tool = _pick_tool(rng, workflow, profile)
                turn = Turn(
                    person, at, tool, workflow, _session_id(rng), 0, _account_type(tool, profile)
                )
            turns.append(turn)
            last = turn
    # Someone flagged for a shadow tool uses it at least once, so the demo always shows it.
    for tool in profile.shadow:
        if turns and not any(t.tool == tool for t in turns):
            session = rng.choice([t.session_id for t in turns if t.turn == 0])
            for t in turns:
                if t.session_id == session:
                    t.tool, t.account_type = tool, _account_type(tool, profile)
    return turns


def plan_usage(rng: random.Random, people: list[Person], period: str) -> list[Turn]:
    """Plan every interaction of the period, sorted by time then user.

    At least one active person uses each prohibited tool, so every demo shows them.
    """
    days = working_days(period)
    profiles = {p.user_id: _profile(rng, p) for p in people}
    active = [p for p in people if profiles[p.user_id].tier != "non_user"]
    for tool, share in (("chatgpt-free", 0.12), ("deepseek-chat", 0.08)):
        users = [p for p in active if tool in profiles[p.user_id].shadow]
        if active and not users:
            chosen = rng.choice(active)
            profiles[chosen.user_id].shadow[tool] = share
    turns: list[Turn] = []
    for person in people:
        profile = profiles[person.user_id]
        if profile.tier != "non_user":
            turns.extend(_plan_person(rng, person, profile, days))
    turns.sort(key=lambda t: (t.at, t.person.user_id))
    return turns
