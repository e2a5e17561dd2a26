"""Checks of the review application shared with other test modules."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from auditor.config import Settings
from auditor.db.models import Account, Finding, Interaction
from auditor.db.session import make_engine, session_scope
from auditor.directory import reporting_line
from auditor.serve.app import ServeOptions, create_app


def check_demo_accounts(settings: Settings, db: Path, accounts: list[tuple[str, str, str]]) -> None:
    """Every demo account signs in with the printed password; a manager's queue holds
    exactly the findings of their reporting line, the reviewer's and risk officer's all."""
    from starlette.testclient import TestClient

    engine = make_engine(f"sqlite:///{db}")
    try:
        app = create_app(settings, engine, ServeOptions(secure_cookies=False))
        with session_scope(engine) as s:
            total = s.scalar(select(func.count()).select_from(Finding))
            people = {a.username: a.person_id for a in s.scalars(select(Account))}
            expected = {}
            for name, _, role in accounts:
                if role == "manager":
                    line = reporting_line(s, people[name])
                    expected[name] = s.scalar(
                        select(func.count())
                        .select_from(Finding)
                        .join(Interaction, Interaction.id == Finding.interaction_id)
                        .where(Interaction.user_id.in_(line))
                    )
                else:
                    expected[name] = total
        assert total
        for name, password, _role in accounts:
            with TestClient(app, follow_redirects=False) as c:
                page = c.get("/login")
                token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                r = c.post(
                    "/login", data={"username": name, "password": password, "csrf_token": token}
                )
                assert r.status_code == 303, name
                queue = c.get("/findings")
                assert queue.status_code == 200, name
                shown = re.search(r"(\d+) findings? · page", queue.text)
                assert shown is not None and int(shown.group(1)) == expected[name], name
                assert expected[name] > 0, name
    finally:
        engine.dispose()
