"""The HMAC key a store's hashes were made with, checked before any stage adds more.

Value hashes, finding ids and pseudonyms all depend on the key. Running against a store with
another key (say, from a different working directory, which has its own key file) would
silently re-identify nothing, rescan everything and orphan every review; so it is refused.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from auditor.db.models import Meta
from auditor.errors import ConfigError

KEY_ID = "hash_key_id"


def key_fingerprint(key: bytes) -> str:
    """A fingerprint that identifies the key without revealing it."""
    return hmac.new(key, b"auditor key fingerprint", hashlib.sha256).hexdigest()[:16]


def check_hash_key(session: Session, key: bytes) -> None:
    """Record the key's fingerprint on first use; raise ConfigError if the store used another."""
    fingerprint = key_fingerprint(key)
    row = session.get(Meta, KEY_ID)
    if row is None:
        session.add(Meta(key=KEY_ID, value=fingerprint))
        session.flush()
    elif row.value != fingerprint:
        raise ConfigError(
            f"this database's hashes were made with another HMAC key ({row.value}, "
            f"now {fingerprint})",
            "use the same scan.hash_key (or data_dir with its hmac.key) as before",
        )
