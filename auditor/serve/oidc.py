"""Sign-in through the firm's OpenID provider: authorization-code flow with PKCE (S256),
state and nonce, by Authlib's Starlette client; the ID token's signature, issuer, audience,
expiry and nonce are checked by Authlib against the provider's published keys.

The person is found in the people directory by a claim (e-mail by default) and the role
comes from the groups claim through `serve.auth.oidc_group_roles`; someone whose groups give
no role or several, or a manager the directory does not know, is refused. The flow's state
lives in a short-lived signed cookie (Starlette's SessionMiddleware, a key made at start-up);
the session that follows is the same server-side session as a local sign-in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.config import ServeAuthSettings
from auditor.db.models import Person
from auditor.serve.accounts import SignInRefused

log = logging.getLogger("auditor.serve")


@dataclass(frozen=True)
class Identity:
    username: str
    role: str
    person_id: str | None


def make_client(auth: ServeAuthSettings) -> Any:
    """Authlib's client for the configured provider (metadata read on first use)."""
    assert auth.oidc_issuer and auth.oidc_client_id and auth.oidc_client_secret
    oauth = OAuth()
    oauth.register(
        "firm",
        client_id=auth.oidc_client_id,
        client_secret=auth.oidc_client_secret.get_secret_value(),
        server_metadata_url=auth.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": auth.oidc_scope, "code_challenge_method": "S256"},
    )
    return oauth.create_client("firm")


async def claims_of(client: Any, request: Any) -> dict[str, Any]:
    """The verified claims of the callback's sign-in: the ID token's, completed from the
    userinfo endpoint when it lacks some (for the same subject only). Raises SignInRefused."""
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        log.info("OpenID sign-in failed: %s", exc.error)
        raise SignInRefused("the sign-in with your organisation did not complete") from None
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise SignInRefused("the provider sent no ID token")
    try:
        extra = await client.userinfo(token=token)
    except Exception:  # noqa: BLE001 - userinfo is optional; the ID token stands alone
        extra = {}
    if extra.get("sub") == claims["sub"]:
        claims = {**extra, **claims}
    return claims


def identity_from(session: Session, claims: dict[str, Any], auth: ServeAuthSettings) -> Identity:
    """Who signed in and in which role. Raises SignInRefused (the message names no claim
    value)."""
    value = claims.get(auth.oidc_claim)
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise SignInRefused(f"the provider sent no usable {auth.oidc_claim} claim")
    value = value.strip()
    groups = claims.get(auth.oidc_groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    roles = {
        auth.oidc_group_roles[g]
        for g in groups
        if isinstance(g, str) and g in auth.oidc_group_roles
    }
    if len(roles) != 1:
        raise SignInRefused(
            "your groups give no role here" if not roles else "your groups give several roles",
            "ask an administrator",
        )
    role = roles.pop()
    if auth.oidc_claim_matches == "email":
        person = session.scalars(
            select(Person.user_id).where(func.lower(Person.email) == value.lower()).limit(2)
        ).all()
        person_id = person[0] if len(person) == 1 else None
    else:
        person_id = value if session.get(Person, value) is not None else None
    if role == "manager" and person_id is None:
        raise SignInRefused(
            "the people directory does not know you, so you have no reporting line",
            "ask an administrator to load the directory",
        )
    return Identity(value.lower() if auth.oidc_claim_matches == "email" else value, role, person_id)
