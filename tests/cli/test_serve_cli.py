"""`auditor users` and `auditor serve` from the command line."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from auditor.cli import main
from auditor.config import Settings
from auditor.db.models import Account
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.directory import load_people
from tests.conftest import DATA

PASSWORD = "a long enough password"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    engine = make_engine(settings.database.url)
    upgrade(engine)
    with session_scope(engine) as session:
        load_people(session, DATA / "people" / "people.csv")
    engine.dispose()

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_add_list_disable(cli, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        "users",
        "add",
        "ed",
        "--role",
        "manager",
        "--person-id",
        "u00010",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    assert "added ed (manager)" in out
    code, out, _ = cli("users", "list")
    assert code == 0 and "ed" in out and "u00010" in out and "active" in out
    assert PASSWORD not in out
    engine = make_engine(settings.database.url)
    with session_scope(engine) as session:
        stored = session.scalars(select(Account.password_hash)).one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    assert cli("users", "disable", "ed")[0] == 0
    assert "disabled" in cli("users", "list")[1]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("ed", "--role", "boss"), PASSWORD, "unknown role 'boss'"),
        (("ed", "--role", "manager"), PASSWORD, "needs --person-id"),
        (
            ("ed", "--role", "manager", "--person-id", "u77777"),
            PASSWORD,
            "not in the people directory",
        ),
        (("ed", "--role", "reviewer"), "short", "shorter than 12"),
        (("Ed Fox", "--role", "reviewer"), PASSWORD, "is not allowed"),
    ],
)
def test_add_refuses_bad_input(cli, args: tuple[str, ...], stdin: str, message: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("users", "add", *args, "--password-stdin", stdin=stdin + "\n")
    assert code == 1 and message in err


def test_a_name_is_taken_once_and_disable_names_the_unknown(cli) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli("users", "add", "rita", "--role", "reviewer", "--password-stdin", stdin=PASSWORD)[0]
        == 0
    )
    code, _, err = cli(
        "users", "add", "rita", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert code == 1 and "exists" in err
    code, _, err = cli("users", "disable", "nobody")
    assert code == 1 and "no user 'nobody'" in err


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_serve_refuses_plain_http_off_the_loopback(cli, host: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("serve", "--host", host, "--insecure-http")
    assert code == 1 and "--insecure-http is refused" in err
