"""Ed25519 signatures on reports: the deployment's signing key, and the signature format.

Every report file is signed over the exact bytes written, after rendering, so nothing inside
the content is special to the seal. The key is `report.signing_key` (a PEM Ed25519 private
key) or, when that is unset, `<data_dir>/report-signing.key`, created once (0600) with its
public key beside it (`report-signing.pub.pem`). Its public key is recorded in the database
(`signing_keys`), where `auditor verify` finds it by fingerprint: the SHA-256 of the 32 raw
public key bytes, in hex.

Where a signature travels:
- the HTML report ends with one comment line, `<!-- auditor-signature {json} -->`, after
  `</html>`; the signature covers every byte before that line;
- the JSON, CSV and OCSF files get a detached `<name>.sig` holding the same JSON.

The JSON (`Signature.to_json`) names the algorithm, the key fingerprint, the SHA-256 of the
signed bytes and the signature (base64).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.config import Settings
from auditor.errors import AuditorError

ALGORITHM = "ed25519"
KEY_FILE = "report-signing.key"
PUBLIC_KEY_FILE = "report-signing.pub.pem"
SIG_SUFFIX = ".sig"
HTML_TRAILER_PREFIX = b"<!-- auditor-signature "
HTML_TRAILER_SUFFIX = b" -->\n"
# The trailer is the file's last line; nothing may follow it. Its JSON holds hex and base64
# only, so it never contains "-->" or a newline.
_HTML_TRAILER = re.compile(rb"<!-- auditor-signature (\{[^\n<>]*\}) -->\n\Z")


@dataclass(frozen=True, slots=True)
class Signature:
    """A detached Ed25519 signature over some bytes, and what names them."""

    key_fingerprint: str
    sha256: str
    signature: str  # base64 of the 64 signature bytes
    algorithm: str = ALGORITHM

    def to_json(self) -> str:
        return json.dumps(
            {
                "algorithm": self.algorithm,
                "key_fingerprint": self.key_fingerprint,
                "sha256": self.sha256,
                "signature": self.signature,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Signature:
        """Parse a signature's JSON. Raises AuditorError if it is not one."""
        try:
            data: Any = json.loads(text)
        except ValueError:
            raise AuditorError("the signature is not valid JSON") from None
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str)
            for k in ("algorithm", "key_fingerprint", "sha256", "signature")
        ):
            raise AuditorError(
                "the signature lacks algorithm, key_fingerprint, sha256 or signature"
            )
        return cls(
            key_fingerprint=data["key_fingerprint"],
            sha256=data["sha256"],
            signature=data["signature"],
            algorithm=data["algorithm"],
        )


@dataclass(frozen=True, slots=True)
class ReportSigner:
    """The deployment's report signing key. `created` is true when this call made the key."""

    private_key: Ed25519PrivateKey = field(repr=False)
    fingerprint: str
    public_key_pem: str
    created: bool = False

    def sign(self, data: bytes) -> Signature:
        return Signature(
            key_fingerprint=self.fingerprint,
            sha256=hashlib.sha256(data).hexdigest(),
            signature=base64.b64encode(self.private_key.sign(data)).decode("ascii"),
        )

    @classmethod
    def from_private_key(cls, key: Ed25519PrivateKey, *, created: bool = False) -> ReportSigner:
        public = key.public_key()
        return cls(key, key_fingerprint(public), public_key_pem(public), created)

    @classmethod
    def generate(cls) -> ReportSigner:
        """A fresh key held in memory only (tests, or a caller that stores it itself)."""
        return cls.from_private_key(Ed25519PrivateKey.generate(), created=True)


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the 32 raw public key bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def parse_public_key(pem: str | bytes, source: str = "the public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM. Raises AuditorError naming `source` otherwise."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise AuditorError(
            f"{source} is not a PEM public key",
            "give the report-signing.pub.pem file (a SubjectPublicKeyInfo PEM)",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditorError(f"{source} is not an Ed25519 key", "reports are signed with Ed25519")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM) from `path`. Raises AuditorError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditorError(f"cannot read the public key {path}: {exc.strerror or exc}") from None
    return parse_public_key(data, str(path))


def _load_private_key(path: Path, setting: str) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise AuditorError(
                f"the report signing key {path} ({setting}) can be read by others "
                f"(mode {mode & 0o777:o}): anyone who reads it can sign reports",
                f"chmod 600 {path}",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise AuditorError(
            f"cannot read the report signing key {path} ({setting}): {exc.strerror or exc}",
            "set report.signing_key to a readable PEM Ed25519 private key",
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AuditorError(
            f"the report signing key {path} ({setting}) is not an unencrypted PEM private key",
            "create one with: openssl genpkey -algorithm ed25519 -out report-signing.key",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditorError(
            f"the report signing key {path} ({setting}) is not an Ed25519 key",
            "create one with: openssl genpkey -algorithm ed25519 -out report-signing.key",
        )
    return key


def load_signer(settings: Settings) -> ReportSigner:
    """The deployment's signer: `report.signing_key`, else the key file under data_dir,
    created once (0600, with its public key beside it). Raises AuditorError if the key
    cannot be read or is not an Ed25519 private key."""
    if settings.report.signing_key is not None:
        key = _load_private_key(settings.report.signing_key, "report.signing_key")
        return ReportSigner.from_private_key(key)
    key_file = settings.data_dir / KEY_FILE
    created = False
    if not key_file.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError as exc:
            raise AuditorError(
                f"cannot create the report signing key {key_file}: {exc.strerror or exc}",
                "check data_dir, or set report.signing_key",
            ) from None
        else:
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:  # a half-written key would break every later run
                key_file.unlink(missing_ok=True)
                raise AuditorError(
                    f"cannot write the report signing key {key_file}: {exc.strerror or exc}",
                    "check the space and permissions of data_dir",
                ) from None
            (settings.data_dir / PUBLIC_KEY_FILE).write_text(
                public_key_pem(key.public_key()), encoding="ascii"
            )
            created = True
    key = _load_private_key(key_file, f"{KEY_FILE} under data_dir")
    return ReportSigner.from_private_key(key, created=created)


def check_signature(public_key: Ed25519PublicKey, signature: Signature, data: bytes) -> str | None:
    """None if `signature` is a valid Ed25519 signature of `data` by `public_key`, else why
    not, in words."""
    if signature.algorithm != ALGORITHM:
        return f"the signature's algorithm is {signature.algorithm!r}, not {ALGORITHM!r}"
    try:
        raw = base64.b64decode(signature.signature, validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not base64"
    try:
        public_key.verify(raw, data)
    except InvalidSignature:
        return (
            "the Ed25519 signature does not verify: the file was changed after it was signed, "
            "or it was signed by another key"
        )
    return None


# --------------------------------------------------------------------------- file formats


def html_trailer(signature: Signature) -> bytes:
    """The last line of a signed HTML report."""
    return HTML_TRAILER_PREFIX + signature.to_json().encode("ascii") + HTML_TRAILER_SUFFIX


def split_html(raw: bytes) -> tuple[bytes, Signature | None]:
    """(signed bytes, signature) of an HTML report; (raw, None) if it has no trailer.
    Raises AuditorError if the trailer is there but malformed."""
    match = _HTML_TRAILER.search(raw)
    if match is None:
        return raw, None
    return raw[: match.start()], Signature.from_json(match.group(1))


def sig_path(path: Path) -> Path:
    """`<name>.sig` beside `path`."""
    return path.with_name(path.name + SIG_SUFFIX)
