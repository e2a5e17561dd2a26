"""Local accounts, signed-in sessions and the sign-in rate limit of `auditor serve`.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended parameter set). A session cookie carries a random token; the database keeps its
SHA-256, so a copy of the database cannot be replayed as a cookie. A session ends when it is
idle too long, when it is too old, at sign-out, or when its account is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auditor.config import ServeAuthSettings
from auditor.db.models import Account, LoginFailure, Person, WebSession
from auditor.errors import AuditorError, InputError, NotFoundError

ROLES = ("manager", "reviewer", "risk_officer", "admin")
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_HASHER = PasswordHasher()  # argon2id by default
# Verified against when the user name is unknown, so that both answers take as long.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class SignInRefused(AuditorError):
    """Wrong user name or password, a disabled account, or too many failures: one message."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class AccountInfo:
    username: str
    role: str
    person_id: str | None
    disabled: bool
    created_at: datetime


def add_account(
    session: Session,
    username: str,
    role: str,
    password: str,
    *,
    person_id: str | None,
    min_password_chars: int,
) -> AccountInfo:
    """Create an account. A manager needs a person id from the people directory (their
    reporting line is their scope). Raises InputError for a bad name, role, person id or
    password, or a name that is taken."""
    if not USERNAME_RE.fullmatch(username):
        raise InputError(
            f"user name {username!r} is not allowed",
            "use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", f"use one of {', '.join(ROLES)}")
    if len(password) < min_password_chars:
        raise InputError(
            f"the password is shorter than {min_password_chars} characters",
            "choose a longer one (serve.auth.min_password_chars)",
        )
    if person_id is not None and session.get(Person, person_id) is None:
        raise InputError(
            f"person id {person_id!r} is not in the people directory",
            "load it with `auditor directory load`, or check the id",
        )
    if role == "manager" and person_id is None:
        raise InputError(
            "a manager account needs --person-id", "their reporting line comes from the directory"
        )
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise InputError(f"user {username!r} exists", "choose another name")
    account = Account(
        username=username,
        role=role,
        person_id=person_id,
        password_hash=_HASHER.hash(password),
        disabled=False,
        created_at=_now(),
    )
    session.add(account)
    session.flush()
    return _info(account)


def _info(account: Account) -> AccountInfo:
    return AccountInfo(
        account.username, account.role, account.person_id, account.disabled, account.created_at
    )


def list_accounts(session: Session) -> list[AccountInfo]:
    return [_info(a) for a in session.scalars(select(Account).order_by(Account.username))]


def disable_account(session: Session, username: str) -> None:
    """Disable an account and end its sessions at once. Raises NotFoundError."""
    account = session.scalars(select(Account).where(Account.username == username)).first()
    if account is None:
        raise NotFoundError(f"no user {username!r}", "see `auditor users list`")
    account.disabled = True
    account.api_token_hash = None
    session.execute(delete(WebSession).where(WebSession.account_id == account.id))
    session.flush()


@dataclass(frozen=True)
class Actor:
    """A signed-in person as every request sees them."""

    username: str
    role: str
    person_id: str | None
    csrf_token: str
    session_id: str


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(
    session: Session, username: str, password: str, client: str, auth: ServeAuthSettings
) -> str:
    """Check a password and open a session; returns the cookie token.

    Raises SignInRefused, with the same message whether the name is unknown, the password
    wrong or the account disabled; and refuses without checking the password once the name
    or the client address has failed too often within the window."""
    username = username.strip()[:64]
    client = client[:64]
    now = _now()
    since = now - timedelta(minutes=auth.failure_window_minutes)
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    by_name = session.scalar(
        select(func.count()).where(LoginFailure.username == username, LoginFailure.at >= since)
    )
    by_client = session.scalar(
        select(func.count()).where(LoginFailure.client == client, LoginFailure.at >= since)
    )
    if (by_name or 0) >= auth.max_failed_logins or (by_client or 0) >= 4 * auth.max_failed_logins:
        raise SignInRefused(
            "too many failed sign-ins", f"wait {auth.failure_window_minutes} minutes"
        )
    account = session.scalars(select(Account).where(Account.username == username)).first()
    try:
        _HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
        ok = account is not None and not account.disabled
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or account is None:
        session.add(LoginFailure(username=username, client=client, at=now))
        session.flush()
        raise SignInRefused("wrong user name or password")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=_token_digest(token),
            account_id=account.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
    )
    session.flush()
    return token


def current_actor(session: Session, token: str | None, auth: ServeAuthSettings) -> Actor | None:
    """The signed-in person for a cookie token, or None when there is no such session, it
    has expired (idle or absolute; then it is removed) or its account is disabled."""
    if not token or len(token) > 128:
        return None
    row = session.execute(
        select(WebSession, Account)
        .join(Account, Account.id == WebSession.account_id)
        .where(WebSession.id == _token_digest(token))
    ).first()
    if row is None:
        return None
    web, account = row
    now = _now()
    expired = now - web.last_seen > timedelta(minutes=auth.idle_minutes) or (
        now - web.created_at > timedelta(hours=auth.absolute_hours)
    )
    if expired or account.disabled:
        session.delete(web)
        session.flush()
        return None
    if now - web.last_seen > timedelta(seconds=30):  # not a write on every request
        web.last_seen = now
    return Actor(account.username, account.role, account.person_id, web.csrf_token, web.id)


# The password hash of an account made by an OpenID sign-in: not an argon2 hash, so no
# password ever matches it.
EXTERNAL = "!oidc"


def sign_in_external(session: Session, username: str, role: str, person_id: str | None) -> str:
    """Open a session for someone the OpenID provider vouched for, creating or updating their
    account (role and person from this sign-in); returns the cookie token. Raises
    SignInRefused for a disabled account or a name a local account already has."""
    if role not in ROLES:
        raise SignInRefused(f"unknown role {role!r}")
    account = session.scalars(select(Account).where(Account.username == username)).first()
    now = _now()
    if account is None:
        account = Account(
            username=username,
            role=role,
            person_id=person_id,
            password_hash=EXTERNAL,
            disabled=False,
            created_at=now,
        )
        session.add(account)
        session.flush()
    elif account.password_hash != EXTERNAL:
        raise SignInRefused("a local account has this name", "ask an administrator")
    elif account.disabled:
        raise SignInRefused("this account is disabled", "ask an administrator")
    else:
        account.role, account.person_id = role, person_id
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=_token_digest(token),
            account_id=account.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
    )
    session.flush()
    return token


API_TOKEN_PREFIX = "aud_"


def issue_api_token(session: Session, username: str) -> str:
    """A new personal API token for an active account, replacing any earlier one; returns it
    (shown once: only its SHA-256 is stored). Raises NotFoundError or InputError."""
    account = session.scalars(select(Account).where(Account.username == username)).first()
    if account is None:
        raise NotFoundError(f"no user {username!r}", "see `auditor users list`")
    if account.disabled:
        raise InputError(f"user {username!r} is disabled", "a disabled account gets no token")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    account.api_token_hash = _token_digest(token)
    account.api_token_created_at = _now()
    session.flush()
    return token


def actor_for_api_token(
    session: Session, token: str | None, auth: ServeAuthSettings
) -> Actor | None:
    """The account a personal API token belongs to, or None for an unknown, expired or
    disabled one. Such an actor has no CSRF token: it never uses a browser session."""
    if not token or not token.startswith(API_TOKEN_PREFIX) or len(token) > 128:
        return None
    account = session.scalars(
        select(Account).where(Account.api_token_hash == _token_digest(token))
    ).first()
    if account is None or account.disabled or account.api_token_created_at is None:
        return None
    if _now() - account.api_token_created_at > timedelta(days=auth.api_token_days):
        return None
    return Actor(account.username, account.role, account.person_id, "", "")


def sign_out(session: Session, actor: Actor) -> None:
    session.execute(delete(WebSession).where(WebSession.id == actor.session_id))
    session.flush()


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    person_id: str | None
    password: str  # shown once by `auditor demo`; only its hash is stored


def demo_accounts(session: Session, *, min_password_chars: int) -> list[DemoAccount]:
    """Accounts for the demo's own database: a reviewer, a risk officer and two managers
    whose reporting lines hold findings (the two with the most findings, leaving out anyone
    whose line is the whole firm). New random passwords on every call; an existing demo
    account is reset. Returns them with the passwords, for the demo to print once."""
    from auditor.db.models import Finding, Interaction
    from auditor.directory import reporting_line

    owners = [
        uid
        for uid in session.scalars(
            select(Interaction.user_id).join(Finding, Finding.interaction_id == Interaction.id)
        )
        if uid
    ]
    bosses = sorted(
        {mid for mid in session.scalars(select(Person.manager_id).distinct()) if mid},
    )
    counts = []
    for boss in bosses:
        line = reporting_line(session, boss)
        n = sum(1 for uid in owners if uid in line)
        if 0 < n < len(owners):
            counts.append((-n, boss))
    managers = [boss for _, boss in sorted(counts)[:2]]
    wanted = [("demo-reviewer", "reviewer", None), ("demo-risk", "risk_officer", None)] + [
        (f"demo-manager-{i}", "manager", boss) for i, boss in enumerate(managers, 1)
    ]
    out = []
    for username, role, person in wanted:
        password = secrets.token_urlsafe(max(12, min_password_chars))
        account = session.scalars(select(Account).where(Account.username == username)).first()
        if account is None:
            add_account(
                session,
                username,
                role,
                password,
                person_id=person,
                min_password_chars=min_password_chars,
            )
        else:
            account.role, account.person_id, account.disabled = role, person, False
            account.password_hash = _HASHER.hash(password)
            session.execute(delete(WebSession).where(WebSession.account_id == account.id))
        out.append(DemoAccount(username, role, person, password))
    session.flush()
    return out
