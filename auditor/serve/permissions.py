"""Who may do what in `auditor serve`: one table of roles and actions, one scope function.

Every route asks `allowed(role, action)`; every query about findings goes through the Scope
that `scope_for` builds, so a finding outside it answers exactly as a missing one does.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from auditor.directory import reporting_line
from auditor.review import EVERYONE, Scope
from auditor.serve.accounts import Actor

# Read the queue and findings; record a disposition; approve or reject another's disposition
# (four-eyes); see who opened a finding's evidence; generate and download the period's
# reports; list the accounts.
ACTIONS = (
    "findings.read",
    "findings.dispose",
    "findings.approve",
    "views.read",
    "reports.generate",
    "users.read",
)

PERMISSIONS: dict[str, frozenset[str]] = {
    "manager": frozenset({"findings.read", "findings.dispose"}),
    "reviewer": frozenset({"findings.read", "findings.dispose", "findings.approve", "views.read"}),
    "risk_officer": frozenset({"findings.read", "reports.generate"}),
    # Accounts and roles only: an administrator sees no evidence.
    "admin": frozenset({"users.read"}),
}


def allowed(role: str, action: str) -> bool:
    """Whether `role` may perform `action`; an unknown role may do nothing."""
    return action in PERMISSIONS.get(role, frozenset())


def scope_for(session: Session, actor: Actor) -> Scope:
    """The findings `actor` may see: a manager's whole reporting line (direct and indirect
    reports in the people directory), everything for reviewers and risk officers, nothing for
    anyone else; never the actor's own findings."""
    own = frozenset({actor.person_id}) if actor.person_id else frozenset()
    if actor.role == "manager":
        if not actor.person_id:
            return Scope(frozenset())
        return Scope(frozenset(reporting_line(session, actor.person_id)) - own, own)
    if actor.role in ("reviewer", "risk_officer"):
        return Scope(EVERYONE.people, own)
    return Scope(frozenset())
