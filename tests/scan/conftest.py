"""Scanner fixtures: the real spaCy model and recognizers, built once per test module."""

from __future__ import annotations

import pytest

from auditor.config import ScanSettings
from auditor.scan.engine import Scanner, build_scanner

KEY = b"scan-test-key-not-secret"


@pytest.fixture(scope="module")
def hash_key() -> bytes:
    return KEY


@pytest.fixture(scope="module")
def scanner(hash_key: bytes) -> Scanner:
    """The scanner as configured by default (the spaCy model load is cached per process)."""
    return build_scanner(ScanSettings(), hash_key)
