"""A small demo month shared by the monitoring tests (each test works on its own copy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.config import Settings, load_settings
from auditor.pipeline import demo_settings, run_demo

PERIOD = "2026-10"
# 40 people give about 650 interactions: every monitored rule but special-category fires,
# and Spark local[2] runs them in about a minute on 2 cores.
DEMO_PEOPLE = 40


@pytest.fixture(scope="session")
def demo_month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """(settings of the demo database, the database file) after one audited demo month."""
    tmp = tmp_path_factory.mktemp("monitor-demo")
    settings = load_settings(
        None,
        data_dir=str(tmp / ".auditor"),
        scan={"hash_key": "monitor-test-key-padded-to-32-bytes"},
        report={"output_dir": str(tmp / "reports")},
    )
    run_demo(settings, people=DEMO_PEOPLE)
    settings = demo_settings(settings)
    return settings, Path(settings.database.url.removeprefix("sqlite:///"))


def copy_demo(demo: tuple[Settings, Path], target_dir: Path, name: str = "auditor.db") -> Settings:
    """Settings on a private copy of the demo database in `target_dir`."""
    settings, db = demo
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    shutil.copyfile(db, target)
    return settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": f"sqlite:///{target}"}),
            "report": settings.report.model_copy(update={"output_dir": target_dir / "reports"}),
            "data_dir": target_dir / ".auditor",
        }
    )
