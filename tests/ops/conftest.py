"""The review application's small bank (tests/serve/conftest.py) serves here too."""

from tests.serve.conftest import bank, loopback, session_engine  # noqa: F401
