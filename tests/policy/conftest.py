"""Fixtures for the policy tests: the project's real policies, loaded once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.policy.engine import EmbeddedEngine, load_bundle
from tests.policy.helpers import POLICY_DIR


@pytest.fixture(scope="session")
def policy_engine() -> EmbeddedEngine:
    """The project's policies, loaded once: the engine is read-only between evaluations."""
    return EmbeddedEngine(load_bundle(POLICY_DIR))


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A writable copy of the policy directory, for breaking things."""
    return Path(shutil.copytree(POLICY_DIR, tmp_path / "policies"))
