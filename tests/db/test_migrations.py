from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from auditor.db.models import Base
from auditor.db.session import alembic_config, ensure_current, make_engine, upgrade
from auditor.errors import AuditorError, ConfigError


@pytest.mark.both_databases
def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        command.check(alembic_config(engine))  # raises if autogenerate would emit anything
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


@pytest.mark.both_databases
def test_migrations_go_down_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        command.downgrade(alembic_config(engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        ensure_current(engine)
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_ensure_current_passes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'm.db'}")
    upgrade(engine)
    upgrade(engine)
    ensure_current(engine)


def test_unmigrated_database_is_refused_with_a_hint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(AuditorError) as info:
        ensure_current(engine)
    assert "auditor db upgrade" in (info.value.hint or "")


def test_unusable_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="database.url"):
        make_engine("nosuchdialect://x")


def test_sqlite_file_is_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "private" / "a.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    assert db.stat().st_mode & 0o077 == 0
    assert db.parent.stat().st_mode & 0o077 == 0
