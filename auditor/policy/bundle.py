"""OPA bundles of the rule pack: write one that `opa run --bundle` accepts, read one back.

A bundle is a gzipped tarball laid out as OPA distributes policy
(https://www.openpolicyagent.org/docs/management-bundles):

- `/.manifest`                  `{"revision", "roots", "rego_version": 1, "metadata"}`;
- `/auditor/**.rego`            the modules, at their paths in the policy directory
                                (`*_test.rego` only with `include_tests`);
- `/auditor_data/data.json`     the data documents, which OPA loads at `data.auditor_data`;
- `/auditor_examples/data.json` the example inputs (only with `include_tests`);
- `/.signatures.json`           `{"signatures": ["<JWS>"]}` when the bundle is signed.

Signing follows OPA's own code (`v1/bundle/sign.go`, `verify.go`, `hash.go`, `bundle.go`):
the JWS payload lists every file of the archive except `.signatures.json` — the manifest
included — as `{"name", "hash", "algorithm"}`, names without the leading `/`. `.rego` files
are hashed as raw bytes; `data.json` and `.manifest` are parsed and hashed in OPA's canonical
form: object keys sorted, no whitespace, strings as Go's JSON encoder writes them, numbers
exactly as written in the file. The key id goes in the JWS header (`kid`) and, as OPA also
does, in the payload's deprecated `keyid` claim. A `scope` claim is written only when asked
for, because OPA refuses a bundle whose scope differs from the one configured (none by
default).

`read_bundle` fails closed: anything it cannot fully account for raises PolicyError naming
the archive and the reason, never quoting file content. Without a public key it loads a
bundle unverified — even a signed one; whether that is allowed is the caller's decision
(configuration that names a key must always pass it).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import os
import re
import tarfile
import zlib
from base64 import urlsafe_b64decode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auditor import __version__
from auditor.errors import PolicyError
from auditor.fileio import atomic_file
from auditor.policy.engine import (
    DATA_ROOT,
    EXAMPLES_ROOT,
    REQUIRED_DATA,
    PolicyBundle,
    PolicyModule,
)

MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
DATA_FILE = "data.json"
PRODUCER = "ai-usage-auditor"
# The hash OPA's signer writes for every file.
SIGNATURE_HASH = "SHA-256"
# Limits on what read_bundle will unpack: the pack is well under 1 MiB, so anything near
# these is not a policy bundle (or is a gzip bomb).
MAX_MEMBER_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 4096
# RSA keys shorter than this are refused for signing and verifying.
MIN_RSA_BITS = 2048

# OPA's names for its hash functions (v1/bundle/hash.go) -> hashlib's.
_HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-224": "sha224",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
    "SHA-512-224": "sha512_224",
    "SHA-512-256": "sha512_256",
}
# OPA would also verify MD5 and SHA-1 digests; a signature over those proves little.
_ACCEPTED_HASHES = frozenset({"SHA-256", "SHA-384", "SHA-512"})
# JWS header parameters OPA's signer writes (plus `typ`, which other JWT tools add). Anything
# else (`crit`, `b64`, `jku`, ...) changes how a token is read, so it is refused.
_HEADER_KEYS = frozenset({"alg", "kid", "typ"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SHOWN_NAME_MAX = 120

KeyKind = Literal["rsa", "ec"]


@dataclass(frozen=True)
class BundleInfo:
    """What write_bundle wrote: the archive, its revision, its files (names without the
    leading `/`), whether and with which key id it is signed, and the archive's SHA-256."""

    path: Path
    revision: str
    files: tuple[str, ...]
    signed: bool
    key_id: str | None
    sha256: str


@dataclass(frozen=True)
class _Member:
    signed_name: str  # the name OPA looks up in the signature: the tar name less one "/"
    content: bytes


class _Number(str):
    """A JSON number as written in the file: OPA hashes the literal (Go's json.Number)."""


# --------------------------------------------------------------------------- hashing


def file_hash(name: str, content: bytes, algorithm: str = SIGNATURE_HASH) -> str:
    """The hex digest OPA computes for one bundle file (v1/bundle/verify.go).

    `data.json`, `data.yaml`, `.manifest` and `.signatures.json` are structured: parsed and
    hashed in OPA's canonical JSON form. Every other file is hashed as raw bytes. Raises
    ValueError for an unknown algorithm or a structured file that is not JSON (YAML is not
    supported here).
    """
    if algorithm not in _HASHES:
        raise ValueError(f"unsupported hashing algorithm {algorithm!r}")
    digest = hashlib.new(_HASHES[algorithm])
    if _is_structured(name):
        digest.update(_canonical(_parse_literal_json(content)).encode("utf-8"))
    else:
        digest.update(content)
    return digest.hexdigest()


def _is_structured(name: str) -> bool:
    # OPA's IsStructuredDoc compares the base name only.
    base = name.rsplit("/", 1)[-1]
    return base in (DATA_FILE, "data.yaml", "signatures.json", MANIFEST)


def _parse_literal_json(content: bytes) -> Any:
    """Parse JSON keeping every number as written. Raises ValueError if it is not JSON."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]  # OPA's util.Unmarshal strips a UTF-8 BOM before hashing
    return json.loads(
        content.decode("utf-8"),
        parse_int=_Number,
        parse_float=_Number,
        parse_constant=_refuse_constant,
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _canonical(value: Any) -> str:
    """OPA's canonical form (hash.go `walk`): objects with keys in byte order, `key:value`
    joined by commas, arrays likewise, primitives as Go's encoder writes them."""
    if isinstance(value, dict):
        items = {_go_string_value(k): v for k, v in value.items()}
        return (
            "{" + ",".join(f"{_go_string(k)}:{_canonical(items[k])}" for k in sorted(items)) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, str):
        return _go_string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _go_string_value(text: str) -> str:
    # Go decodes an unpaired surrogate escape (`"\ud800"`) to U+FFFD; Python keeps it.
    return _SURROGATE.sub("\ufffd", text)


def _go_string(text: str) -> str:
    """A string as Go's json.Encoder writes it with SetEscapeHTML(false) (Go 1.22+):
    Python's escapes match it except for U+2028 and U+2029, which Go always escapes."""
    encoded = json.dumps(_go_string_value(text), ensure_ascii=False)
    return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# --------------------------------------------------------------------------- keys


def generate_signing_key(out: Path, kind: KeyKind = "rsa", *, rsa_bits: int = 3072) -> Path:
    """Write a new PEM private key (PKCS#8, unencrypted, mode 0600) at `out` and its public
    key next to it (`name.pem` -> `name.pub.pem`); returns the public key's path.

    `kind` is `rsa` (RS256) or `ec` (P-256, ES256). Raises PolicyError if either file
    already exists (a key is never overwritten) or cannot be written.
    """
    public_path = public_key_path(out)
    if kind == "rsa":
        if rsa_bits < MIN_RSA_BITS:
            raise PolicyError(f"RSA keys need at least {MIN_RSA_BITS} bits, not {rsa_bits}")
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(
            public_exponent=65537, key_size=rsa_bits
        )
    elif kind == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise PolicyError(f"unknown key kind {kind!r}", "use rsa or ec")
    for path in (out, public_path):
        if path.exists():
            raise PolicyError(f"{path} already exists", "keys are never overwritten")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(out, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    return public_path


def public_key_path(private_key: Path) -> Path:
    """Where generate_signing_key puts the public key of `private_key`."""
    return private_key.with_name(private_key.name.removesuffix(".pem") + ".pub.pem")


def _write_new(path: Path, content: bytes, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(path, mode)  # the umask may have narrowed it; 0600 must not widen
    except OSError as exc:
        raise PolicyError(f"cannot write key file {path}: {exc.strerror or exc}") from None


def _signing_algorithm(key: object, path: Path, role: str) -> str:
    """RS256 for RSA, ES256 for EC P-256; PolicyError for any other key."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < MIN_RSA_BITS:
            raise PolicyError(
                f"{role} {path} is a {key.key_size}-bit RSA key",
                f"use an RSA key of at least {MIN_RSA_BITS} bits or an EC P-256 key",
            )
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        kind = f"EC {key.curve.name}"
    else:
        kind = (
            type(key)
            .__name__.removeprefix("_")
            .removesuffix("PrivateKey")
            .removesuffix("PublicKey")
        )
    raise PolicyError(
        f"{role} {path} is an unsupported {kind} key",
        "bundles are signed with RSA (RS256) or EC P-256 (ES256) keys",
    )


def _load_private_key(path: Path) -> tuple[rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, str]:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read signing key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise PolicyError(
            f"signing key {path} is encrypted",
            "give an unencrypted PEM key, kept readable only by the signing account",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise PolicyError(
            f"signing key {path} is not a PEM private key",
            "e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`",
        ) from None
    algorithm = _signing_algorithm(key, path, "signing key")
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return key, algorithm


def _load_public_key(path: Path) -> tuple[rsa.RSAPublicKey | ec.EllipticCurvePublicKey, str]:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read public key {path}: {exc.strerror or exc}") from None
    if b"PRIVATE KEY-----" in pem:
        # Verifying needs only the public half; a private key here is a deployment mistake.
        raise PolicyError(
            f"public key {path} holds a private key", "give the .pub.pem file to the verifier"
        )
    key: object
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise PolicyError(f"public key {path} is not a PEM public key or certificate") from None
    algorithm = _signing_algorithm(key, path, "public key")
    assert isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))
    return key, algorithm


# --------------------------------------------------------------------------- writing


def write_bundle(
    bundle: PolicyBundle,
    out: Path,
    *,
    signing_key: Path | None = None,
    key_id: str | None = None,
    include_tests: bool = False,
    revision: str | None = None,
    scope: str | None = None,
) -> BundleInfo:
    """Write `bundle` as an OPA bundle (gzipped tar) at `out`, atomically, mode 0600.

    The revision defaults to the pack's content revision. The same input gives the same
    bytes (fixed times and owners, sorted members); so does an RSA signature, but an ECDSA
    signature differs on every run. With `signing_key` (PEM; RSA -> RS256, EC P-256 ->
    ES256) the bundle carries `.signatures.json` as `opa build --signing-key` writes it,
    with `key_id` as the JWS `kid` and `scope` as the scope claim when given.

    Raises PolicyError for an unusable key, a module whose package lies outside the bundle
    roots, data that is not JSON, or an output that cannot be written.
    """
    revision = bundle.content_revision if revision is None else revision
    if not revision.strip():
        raise PolicyError("a bundle revision cannot be empty")
    roots = ["auditor", DATA_ROOT]
    if include_tests:
        roots.append(EXAMPLES_ROOT)
    manifest = {
        "revision": revision,
        "roots": roots,
        "rego_version": 1,
        "metadata": {
            "producer": PRODUCER,
            "producer_version": __version__,
            "content_revision": bundle.content_revision,
            "includes_tests": include_tests,
        },
    }
    files: dict[str, bytes] = {MANIFEST: _json_bytes(manifest, "the manifest")}
    for module in bundle.modules:
        if module.is_test and not include_tests:
            continue
        name = _check_name(module.path, where=f"module {module.path!r}")
        if not name.endswith(".rego") or name in files:
            raise PolicyError(f"module path {module.path!r} cannot be written to a bundle")
        _check_package(module, roots, where=f"module {module.path}")
        files[name] = module.text.encode("utf-8")
    files[f"{DATA_ROOT}/{DATA_FILE}"] = _json_bytes(
        dict(sorted(bundle.data.items())), "the policy data"
    )
    if include_tests:
        files[f"{EXAMPLES_ROOT}/{DATA_FILE}"] = _json_bytes(
            dict(sorted(bundle.examples.items())), "the example inputs"
        )
    if signing_key is not None:
        private_key, algorithm = _load_private_key(signing_key)
        token = _sign(files, private_key, algorithm, key_id=key_id, scope=scope)
        files[SIGNATURES] = _json_bytes({"signatures": [token]}, "the signatures")
    archive = _tar_gz(files)
    _write_atomic(out, archive)
    return BundleInfo(
        path=out,
        revision=revision,
        files=tuple(sorted(files)),
        signed=signing_key is not None,
        key_id=key_id if signing_key is not None else None,
        sha256=hashlib.sha256(archive).hexdigest(),
    )


def _json_bytes(value: Any, what: str) -> bytes:
    try:
        text = json.dumps(
            value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"{what} cannot be written as JSON: {exc}") from None
    return text.encode("utf-8")


def _sign(
    files: Mapping[str, bytes],
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    algorithm: str,
    *,
    key_id: str | None,
    scope: str | None,
) -> str:
    payload: dict[str, Any] = {
        "files": [
            {"name": name, "hash": file_hash(name, content), "algorithm": SIGNATURE_HASH}
            for name, content in sorted(files.items())
        ]
    }
    headers: dict[str, Any] = {"typ": None}  # OPA's signer writes no `typ`; PyJWT would
    if key_id:
        headers["kid"] = key_id
        payload["keyid"] = key_id  # deprecated claim OPA still writes and reads
    if scope:
        payload["scope"] = scope
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return jwt.PyJWS().encode(body, key, algorithm=algorithm, headers=headers)


def _tar_gz(files: Mapping[str, bytes]) -> bytes:
    """The files as a gzipped tar with nothing that varies between runs: sorted members,
    mtime 0, owner 0:0, mode 0644, no names in the gzip header, gzip mtime 0."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(files):
            content = files[name]
            # OPA's own writer roots every member at "/"; its reader trims that "/" again.
            info = tarfile.TarInfo("/" + name)
            info.size = len(content)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def _write_atomic(out: Path, content: bytes) -> None:
    """Write whole and owner-only, so a reader never sees half a bundle and an existing
    bundle is replaced only by a complete one."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(out, binary=True) as fh:
            fh.write(content)
    except OSError as exc:
        raise PolicyError(f"cannot write policy bundle {out}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- reading


def read_bundle(
    path: Path,
    *,
    public_key: Path | None = None,
    key_id: str | None = None,
    scope: str | None = None,
) -> PolicyBundle:
    """Read an OPA bundle written by write_bundle (or `opa build -b` over the same layout)
    into a PolicyBundle whose `declared_revision` is the manifest's revision.

    With `public_key` (PEM public key or certificate) the bundle must carry exactly one JWS
    in `.signatures.json` that verifies with that key's algorithm (RS256 or ES256; `none`
    and HMAC are refused), names `key_id` when one is given, carries `scope` (or none, as
    OPA checks), and lists exactly the archive's files with matching hashes. Without a
    public key nothing is verified, even if the bundle is signed: the caller decides
    whether an unverified bundle may be used.

    Raises PolicyError naming the archive and the reason for anything it cannot account
    for: not gzip or tar, an unsafe or duplicate member, a link or device, sizes over the
    limits, invalid JSON, missing manifest fields, a module outside the manifest roots,
    data outside `auditor_data`/`auditor_examples`, a missing required data document, or
    a failed verification. Messages never quote file content.
    """
    # The key first: a bad key path is a configuration error, whatever the archive holds.
    verifier = _load_public_key(public_key) if public_key is not None else None
    members = _read_members(path)
    if verifier is not None and public_key is not None:
        _verify(path, members, verifier, str(public_key), key_id=key_id, scope=scope)
    return _to_policy_bundle(path, members)


def _fail(archive: Path, reason: str, hint: str | None = None) -> PolicyError:
    return PolicyError(f"policy bundle {archive}: {reason}", hint)


def _shown(name: str) -> str:
    """A member name fit for a one-line message (names come from the archive)."""
    text = name if len(name) <= _SHOWN_NAME_MAX else name[:_SHOWN_NAME_MAX] + "..."
    return repr(text)


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib and limit % mib == 0 else f"{limit} bytes"


def _gunzip(archive: Path, raw: bytes) -> bytes:
    """Decompress every gzip member, refusing a truncated stream and output past
    MAX_TOTAL_BYTES (plus room for tar headers) before it is produced."""
    if raw[:2] != b"\x1f\x8b":
        raise _fail(archive, "is not a gzip file", "an OPA bundle is a gzipped tar (.tar.gz)")
    limit = MAX_TOTAL_BYTES + 8 * 1024 * 1024
    out = bytearray()
    rest = raw
    while rest:
        stream = zlib.decompressobj(wbits=31)
        try:
            chunk = stream.decompress(rest, limit - len(out) + 1)
            out += chunk
            if len(out) > limit or stream.unconsumed_tail:
                raise _fail(archive, f"unpacks to over the size limit ({_size(limit)})")
            out += stream.flush()
        except zlib.error as exc:
            raise _fail(archive, f"is not a valid gzip stream ({exc})") from None
        if not stream.eof:
            raise _fail(archive, "is truncated (the gzip stream ends early)")
        rest = stream.unused_data
        if rest and not rest.strip(b"\0"):
            break  # zero padding after the stream, as some tools write
        if rest and rest[:2] != b"\x1f\x8b":
            raise _fail(archive, "has data after its gzip stream")
    return bytes(out)


def _check_name(name: str, *, where: str) -> str:
    """A bundle-relative POSIX path with no `..`, `.` or empty segments, or PolicyError."""
    if not name or "\\" in name or "\0" in name:
        raise PolicyError(f"{where}: not a usable path")
    if name.startswith("/") or _DRIVE.match(name):
        raise PolicyError(f"{where}: absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise PolicyError(f"{where}: path contains '..'")
    if any(part in ("", ".") for part in parts):
        raise PolicyError(f"{where}: path is not normalised")
    return name


def _member_names(archive: Path, tar_name: str) -> tuple[str, str]:
    """(name as OPA looks it up in the signature, bundle-relative path) of a tar member.

    OPA's writer roots members at "/" and its reader trims exactly one leading "/"; a
    "./" prefix (from `tar -C dir .`) is also accepted. Anything else absolute, any `..`,
    and any odd segment is refused."""
    signed_name = tar_name[1:] if tar_name.startswith("/") else tar_name
    relative = signed_name[2:] if signed_name.startswith("./") else signed_name
    try:
        _check_name(relative, where=f"member {_shown(tar_name)}")
    except PolicyError as exc:
        raise _fail(archive, exc.message) from None
    return signed_name, relative


def _read_members(archive: Path) -> dict[str, _Member]:
    """Every regular file of the archive by bundle-relative path. Raises PolicyError."""
    try:
        size = archive.stat().st_size
        if size > MAX_TOTAL_BYTES:
            raise _fail(archive, f"is over the size limit ({_size(MAX_TOTAL_BYTES)})")
        raw = archive.read_bytes()
    except FileNotFoundError:
        raise PolicyError(f"policy bundle {archive} does not exist") from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy bundle {archive}: {exc.strerror or exc}") from None
    data = _gunzip(archive, raw)
    members: dict[str, _Member] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for count, info in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise _fail(archive, f"has over the member limit ({MAX_MEMBERS})")
                if info.isdir() and info.name in ("", ".", "/", "./"):
                    continue
                signed_name, relative = _member_names(archive, info.name)
                _check_member_type(archive, info)
                if info.isdir():
                    continue
                if info.size > MAX_MEMBER_BYTES:
                    raise _fail(
                        archive,
                        f"member {_shown(info.name)} is over the size limit "
                        f"({_size(MAX_MEMBER_BYTES)})",
                    )
                total += info.size
                if total > MAX_TOTAL_BYTES:
                    raise _fail(
                        archive, f"members add up to over the size limit ({_size(MAX_TOTAL_BYTES)})"
                    )
                if relative in members:
                    raise _fail(archive, f"holds {_shown(relative)} more than once")
                handle = tar.extractfile(info)
                content = handle.read() if handle is not None else b""
                if len(content) != info.size:
                    raise _fail(archive, f"is truncated inside {_shown(info.name)}")
                members[relative] = _Member(signed_name, content)
            end = tar.offset
    except tarfile.TarError as exc:
        raise _fail(archive, f"is not a readable tar archive ({exc})") from None
    # Python's tarfile stops quietly at the first bad header after the first member; Go's
    # (OPA's) reader fails. Anything but zero padding past the last member is refused.
    if data[end:].strip(b"\0"):
        raise _fail(archive, "has a corrupt tar header after its last readable member")
    return members


def _check_member_type(archive: Path, info: tarfile.TarInfo) -> None:
    kind = None
    if info.issym():
        kind = "a symbolic link"
    elif info.islnk():
        kind = "a hard link"
    elif info.ischr() or info.isblk():
        kind = "a device"
    elif info.isfifo():
        kind = "a FIFO"
    elif info.issparse():
        kind = "a sparse file"
    elif not (info.isreg() or info.isdir()):
        kind = "not a regular file"
    if kind:
        raise _fail(archive, f"member {_shown(info.name)} is {kind}")


def _verify(
    archive: Path,
    members: Mapping[str, _Member],
    verifier: tuple[rsa.RSAPublicKey | ec.EllipticCurvePublicKey, str],
    key_name: str,
    *,
    key_id: str | None,
    scope: str | None,
) -> None:
    """Check the signature and that it lists exactly the archive's files, with their
    hashes (OPA's rules, stricter where OPA is lenient). Raises PolicyError."""
    key, algorithm = verifier
    signatures = members.get(SIGNATURES)
    if signatures is None:
        raise _fail(
            archive,
            f"is not signed (no {SIGNATURES}) but a public key was given",
            "sign it: write_bundle(..., signing_key=...) or `opa build --signing-key`",
        )
    try:
        document = json.loads(signatures.content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _fail(archive, f"{SIGNATURES} is not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("signatures"), list):
        raise _fail(archive, f'{SIGNATURES} has no "signatures" list')
    if document.get("plugin"):
        raise _fail(archive, f"{SIGNATURES} names a signing plugin, which cannot be verified here")
    tokens = document["signatures"]
    if len(tokens) != 1 or not isinstance(tokens[0], str):
        raise _fail(archive, f"{SIGNATURES} must hold exactly one JWS, not {len(tokens)}")
    try:
        payload = _verify_token(
            tokens[0], key, algorithm, key_id=key_id, scope=scope, key_name=key_name
        )
    except ValueError as exc:
        raise _fail(archive, f"signature refused: {exc}") from None
    listed = _listed_files(archive, payload)
    present = {m.signed_name: m for name, m in members.items() if name != SIGNATURES}
    missing = sorted(set(listed) - set(present))
    if missing:
        raise _fail(
            archive,
            f"{_shown(missing[0])} is listed in the signature but not in the archive"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
        )
    unlisted = sorted(set(present) - set(listed))
    if unlisted:
        raise _fail(
            archive,
            f"{_shown(unlisted[0])} is in the archive but not in the signature"
            + (f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else ""),
        )
    for name in sorted(present):
        expected, hash_name = listed[name]
        try:
            actual = file_hash(name, present[name].content, hash_name)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _fail(archive, f"{_shown(name)} is not valid JSON") from None
        # Bytes: compare_digest refuses str with non-ASCII, and the hash comes from the archive.
        if not hmac.compare_digest(actual.encode(), expected.lower().encode("utf-8")):
            raise _fail(archive, f"{_shown(name)} does not match its signed hash")


def _b64_json(segment: str, what: str) -> Any:
    try:
        return json.loads(urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        raise ValueError(f"the JWS {what} is not base64url JSON") from None


def _verify_token(
    token: str,
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    algorithm: str,
    *,
    key_id: str | None,
    scope: str | None,
    key_name: str,
) -> dict[str, Any]:
    """The verified payload of one compact JWS, following OPA's verifyJWTSignature: the
    algorithm comes from the key, never from the token; the key id is the header's `kid`,
    else the payload's `keyid`; the payload's scope must equal `scope` (empty if None).
    Raises ValueError with the reason."""
    segments = token.split(".")
    if len(segments) != 3:
        raise ValueError("not a compact JWS (three dot-separated parts)")
    header = _b64_json(segments[0], "header")
    if not isinstance(header, dict):
        raise ValueError("the JWS header is not an object")
    token_alg = header.get("alg")
    if token_alg != algorithm:
        raise ValueError(
            f"algorithm {str(token_alg)[:20]!r} is not accepted; "
            f"the public key {key_name} verifies {algorithm} only"
        )
    unknown = sorted(str(k)[:20] for k in set(header) - _HEADER_KEYS)
    if unknown:
        raise ValueError(f"unsupported JWS header parameters {', '.join(unknown)}")
    try:
        verified = jwt.PyJWS().decode_complete(token, key=key, algorithms=[algorithm])
    except jwt.InvalidSignatureError:
        raise ValueError(f"the signature does not verify with the public key {key_name}") from None
    except jwt.PyJWTError as exc:
        raise ValueError(f"the JWS is invalid ({exc})") from None
    try:
        payload = json.loads(verified["payload"])
    except (ValueError, RecursionError):
        raise ValueError("the JWS payload is not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("the JWS payload is not an object")
    header_kid, claim_kid = header.get("kid"), payload.get("keyid")
    for value in (header_kid, claim_kid):
        if value is not None and not isinstance(value, str):
            raise ValueError("the key id is not a string")
    if header_kid and claim_kid and header_kid != claim_kid:
        raise ValueError("the JWS header and payload name different key ids")
    token_kid = header_kid or claim_kid
    if key_id is not None and token_kid != key_id:
        named = f"key id {token_kid[:40]!r}" if token_kid else "no key id"
        raise ValueError(f"the bundle names {named}, expected {key_id!r}")
    if payload.get("scope", "") != (scope or ""):
        raise ValueError("scope mismatch")
    return payload


def _listed_files(archive: Path, payload: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (hex hash, algorithm) from a verified payload. Raises PolicyError."""
    files = payload.get("files")
    if not isinstance(files, list):
        raise _fail(archive, 'the signature payload has no "files" list')
    listed: dict[str, tuple[str, str]] = {}
    for entry in files:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("name", "hash", "algorithm")
        ):
            raise _fail(archive, "a signature file entry lacks name, hash or algorithm")
        name, digest, algorithm = entry["name"], entry["hash"], entry["algorithm"]
        if algorithm not in _ACCEPTED_HASHES:
            raise _fail(
                archive,
                f"{_shown(name)} is signed with hash {algorithm[:20]!r}",
                "sign with SHA-256 (OPA's default)",
            )
        if name in listed:
            raise _fail(archive, f"the signature lists {_shown(name)} more than once")
        listed[name] = (digest, algorithm)
    return listed


def _to_policy_bundle(archive: Path, members: Mapping[str, _Member]) -> PolicyBundle:
    if MANIFEST not in members:
        raise _fail(archive, f"has no {MANIFEST}", "not an OPA bundle written for this pack")
    revision, roots = _read_manifest(archive, members[MANIFEST].content)
    modules: list[PolicyModule] = []
    tree: dict[str, Any] = {}
    for name in sorted(members):
        content = members[name].content
        if name in (MANIFEST, SIGNATURES):
            continue
        if name.endswith(".rego"):
            try:
                module = PolicyModule(name, content.decode("utf-8"))
            except UnicodeDecodeError:
                raise _fail(archive, f"module {_shown(name)} is not UTF-8") from None
            try:
                _check_package(module, roots, where=f"module {_shown(name)}")
            except PolicyError as exc:
                raise _fail(archive, exc.message) from None
            modules.append(module)
        elif name.rsplit("/", 1)[-1] == DATA_FILE:
            _insert_data(archive, tree, name, _load_json(archive, name, content))
        else:
            raise _fail(
                archive,
                f"holds unsupported file {_shown(name)}",
                f"a pack bundle holds only .rego files, data.json, {MANIFEST} and {SIGNATURES}",
            )
    _check_data_roots(archive, tree, roots)
    data, examples = tree.get(DATA_ROOT, {}), tree.get(EXAMPLES_ROOT, {})
    for root, value in ((DATA_ROOT, data), (EXAMPLES_ROOT, examples)):
        if not isinstance(value, dict):
            raise _fail(archive, f"data at {root} is not an object")
    missing = [name for name in REQUIRED_DATA if name not in data]
    if missing:
        raise _fail(
            archive,
            f"policy data missing: {', '.join(missing)}",
            f"every pack needs {', '.join(REQUIRED_DATA)} under {DATA_ROOT}",
        )
    if not any(not m.is_test for m in modules):
        raise _fail(archive, "holds no .rego policies")
    bundle = PolicyBundle(
        modules=tuple(modules),
        data=dict(sorted(data.items())),
        examples=dict(sorted(examples.items())),
        source=str(archive),
        declared_revision=revision,
    )
    # A bundle this auditor wrote records the content revision it was built from. Content
    # that no longer gives it was changed after the build: its declared revision, which every
    # decision records, would name policies that are not the ones evaluating.
    metadata = _load_json(archive, MANIFEST, members[MANIFEST].content).get("metadata")
    built_from = metadata.get("content_revision") if isinstance(metadata, dict) else None
    if isinstance(built_from, str) and built_from != bundle.content_revision:
        raise _fail(
            archive,
            f"its modules and data are not the ones it was built from (content revision "
            f"{bundle.content_revision[:12]}, the manifest records {built_from[:12]})",
            "rebuild it with `auditor policy bundle`, and sign it so a change is refused",
        )
    return bundle


def _load_json(archive: Path, name: str, content: bytes) -> Any:
    """The document as loaded. A lone surrogate escape (`\\ud800`) is refused: the signed
    hash reads it as U+FFFD (as Go does), so two different documents could share one hash."""
    try:
        value = json.loads(content.decode("utf-8"), parse_constant=_refuse_constant)
        if _has_surrogate(value):
            raise _fail(archive, f"{_shown(name)} holds a lone surrogate escape (not Unicode)")
        return value
    except UnicodeDecodeError:
        raise _fail(archive, f"{_shown(name)} is not UTF-8") from None
    except json.JSONDecodeError as exc:
        # Position only: the message must not quote the file.
        raise _fail(
            archive, f"{_shown(name)} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (ValueError, RecursionError):
        raise _fail(archive, f"{_shown(name)} is not valid JSON") from None


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _read_manifest(archive: Path, content: bytes) -> tuple[str, list[str]]:
    manifest = _load_json(archive, MANIFEST, content)
    if not isinstance(manifest, dict):
        raise _fail(archive, f"{MANIFEST} is not a JSON object")
    revision = manifest.get("revision")
    if not isinstance(revision, str) or not revision.strip():
        raise _fail(
            archive,
            f"{MANIFEST} has no revision",
            "every decision records the pack revision; build with `opa build --revision`",
        )
    raw_roots = manifest.get("roots")
    if not isinstance(raw_roots, list) or not all(isinstance(r, str) for r in raw_roots):
        raise _fail(archive, f"{MANIFEST} has no roots list")
    roots = [root.strip("/") for root in raw_roots]
    for i, first in enumerate(roots):
        for second in roots[i + 1 :]:
            if _contains(first, second) or _contains(second, first):
                raise _fail(archive, f"{MANIFEST} has overlapping roots {first!r} and {second!r}")
    versions = [manifest.get("rego_version", 1)]
    file_versions = manifest.get("file_rego_versions") or {}
    if not isinstance(file_versions, dict):
        raise _fail(archive, f"{MANIFEST} file_rego_versions is not an object")
    versions += list(file_versions.values())
    if any(v != 1 or isinstance(v, bool) for v in versions):
        raise _fail(archive, f"{MANIFEST} declares Rego v0 modules", "the pack is Rego v1")
    if manifest.get("wasm"):
        raise _fail(archive, f"{MANIFEST} declares Wasm modules, which the auditor cannot run")
    return revision, roots


def _segments(path: str) -> list[str]:
    return path.split("/")


def _contains(root: str, path: str) -> bool:
    """OPA's rootContains: the empty root holds everything, else a segment prefix."""
    if root == "":
        return True
    root_parts, parts = _segments(root), _segments(path)
    return len(root_parts) <= len(parts) and parts[: len(root_parts)] == root_parts


def _check_package(module: PolicyModule, roots: Iterable[str], *, where: str) -> None:
    package = module.package
    if not package:
        raise PolicyError(f"{where} has no package line that can be read")
    path = package.replace(".", "/")
    if not any(_contains(root, path) for root in roots):
        shown = package if len(package) <= _SHOWN_NAME_MAX else package[:_SHOWN_NAME_MAX] + "..."
        raise PolicyError(
            f"{where} declares package {shown}, outside the manifest roots "
            f"{', '.join(sorted(roots))}"
        )


def _insert_data(archive: Path, tree: dict[str, Any], name: str, value: Any) -> None:
    """Merge one data.json into the data tree at its directory, as OPA does; a value that
    would replace another is refused rather than merged over."""
    directory = name.rsplit("/", 1)[0] if "/" in name else ""
    keys = [part for part in directory.split("/") if part]
    if not keys:
        if not isinstance(value, dict):
            raise _fail(archive, f"{_shown(name)} at the bundle root is not a JSON object")
        _merge(archive, tree, value, name)
        return
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise _fail(archive, f"{_shown(name)} conflicts with other data in the bundle")
        node = child
    if keys[-1] in node:
        existing = node[keys[-1]]
        if not (isinstance(existing, dict) and isinstance(value, dict)):
            raise _fail(archive, f"{_shown(name)} conflicts with other data in the bundle")
        _merge(archive, existing, value, name)
    else:
        node[keys[-1]] = value


def _merge(archive: Path, into: dict[str, Any], value: dict[str, Any], name: str) -> None:
    for key, item in value.items():
        if key not in into:
            into[key] = item
        elif isinstance(into[key], dict) and isinstance(item, dict):
            _merge(archive, into[key], item, name)
        else:
            raise _fail(archive, f"{_shown(name)} conflicts with other data in the bundle")


def _check_data_roots(archive: Path, tree: Mapping[str, Any], roots: list[str]) -> None:
    """All data lies under a manifest root (OPA's check) and under the two documents the
    pack uses: anything else would be loaded by OPA but ignored here, so it is refused."""
    for key in sorted(tree):
        if key not in (DATA_ROOT, EXAMPLES_ROOT):
            raise _fail(
                archive,
                f"holds data at {_shown(key)}; the pack reads only {DATA_ROOT} and {EXAMPLES_ROOT}",
            )
        _check_data_node(archive, tree[key], key, roots)


def _check_data_node(archive: Path, node: Any, path: str, roots: list[str]) -> None:
    if any(_contains(root, path) for root in roots):
        return
    # A root deeper than this node (e.g. "auditor_data/tools") permits part of it.
    if isinstance(node, dict) and any(_contains(path, root) for root in roots):
        for key, child in node.items():
            _check_data_node(archive, child, f"{path}/{key}", roots)
        return
    raise _fail(archive, f"data at {_shown(path)} is outside the manifest roots")
