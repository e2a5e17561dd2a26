"""Database: the only package that creates engines and sessions."""

# The review trail is chained at flush by a listener this import registers.
from auditor.db import trail as trail  # noqa: E402
