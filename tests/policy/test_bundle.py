"""OPA bundles of the pack (auditor.policy.bundle): round trip through the engine,
deterministic bytes, OPA's signing format (checked against OPA's own test vectors), and a
gallery of archives that must be refused, one row each."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from auditor.errors import PolicyError
from auditor.policy import bundle as bundle_module
from auditor.policy.bundle import (
    BundleInfo,
    file_hash,
    generate_signing_key,
    public_key_path,
    read_bundle,
    write_bundle,
)
from auditor.policy.engine import EmbeddedEngine, PolicyBundle, PolicyModule, load_bundle
from tests.policy.helpers import POLICY_DIR, example_names, load_example

KEY_ID = "auditor-signing-1"

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pack() -> PolicyBundle:
    return load_bundle(POLICY_DIR)


def _save_key(private: Any, path: Path) -> tuple[Path, Path]:
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = public_key_path(path)
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path, public


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """(private, public) PEM paths by name; one RSA 2048 key for the module (the slow one)."""
    folder = tmp_path_factory.mktemp("keys")
    made = {"rsa": _save_key(rsa.generate_private_key(65537, 2048), folder / "rsa.pem")}
    for name in ("ec", "ec-other"):
        private = folder / f"{name}.pem"
        made[name] = (private, generate_signing_key(private, "ec"))
    return made


@pytest.fixture(scope="module")
def bundle_engine(pack: PolicyBundle, tmp_path_factory: pytest.TempPathFactory) -> EmbeddedEngine:
    out = tmp_path_factory.mktemp("bundle") / "pack.tar.gz"
    write_bundle(pack, out, revision="2026.10-r1")
    return EmbeddedEngine(read_bundle(out))


# --------------------------------------------------------------------------- helpers


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            info.name: tar.extractfile(info).read()  # type: ignore[union-attr]
            for info in tar
            if info.isreg()
        }


def _entry(
    name: str, content: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(content) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info, content


def _write_tar(archive: Path, entries: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, content in entries:
            tar.addfile(info, io.BytesIO(content) if info.isreg() else None)
    archive.write_bytes(gzip.compress(raw.getvalue(), mtime=0))


def _rewrite(archive: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    """Apply `change` to the archive's files (names as in the tar) and pack them again."""
    files = _members(archive)
    change(files)
    _write_tar(archive, [_entry(name, content) for name, content in files.items()])


def _rewrite_json(archive: Path, name: str, change: Callable[[Any], Any]) -> None:
    def edit(files: dict[str, bytes]) -> None:
        files[name] = json.dumps(change(json.loads(files[name]))).encode()

    _rewrite(archive, edit)


def _token(archive: Path) -> str:
    token: str = json.loads(_members(archive)["/.signatures.json"])["signatures"][0]
    return token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _replace_token(archive: Path, token: str | list[str]) -> None:
    tokens = token if isinstance(token, list) else [token]

    def edit(files: dict[str, bytes]) -> None:
        files["/.signatures.json"] = json.dumps({"signatures": tokens}).encode()

    _rewrite(archive, edit)


def _forged(archive: Path, header: dict[str, Any], secret: bytes | None) -> str:
    """The archive's payload under a forged header: unsigned (`none`) or HMAC-SHA256."""
    payload = _token(archive).split(".")[1]
    signing_input = f"{_b64(json.dumps(header).encode())}.{payload}"
    signature = (
        _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()) if secret else ""
    )
    return f"{signing_input}.{signature}"


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("include_tests", [False, True], ids=["policies", "with-tests"])
def test_round_trip_gives_the_pack_back(
    pack: PolicyBundle, tmp_path: Path, include_tests: bool
) -> None:
    out = tmp_path / "pack.tar.gz"
    info = write_bundle(pack, out, include_tests=include_tests)
    loaded = read_bundle(out)

    expected = [m for m in pack.modules if include_tests or not m.is_test]
    assert list(loaded.modules) == expected
    assert loaded.data == pack.data
    assert loaded.examples == (pack.examples if include_tests else {})
    assert loaded.declared_revision == info.revision == pack.content_revision
    assert loaded.revision == pack.content_revision
    assert loaded.content_revision == pack.content_revision
    assert loaded.source == str(out)


def test_revision_comes_from_the_manifest(pack: PolicyBundle, tmp_path: Path) -> None:
    out = tmp_path / "pack.tar.gz"
    write_bundle(pack, out, revision="2026.10-r7")
    manifest = json.loads(_members(out)["/.manifest"])

    assert read_bundle(out).revision == "2026.10-r7" == manifest["revision"]
    assert manifest["roots"] == ["auditor", "auditor_data"]
    assert manifest["rego_version"] == 1
    assert manifest["metadata"]["producer"] == "ai-usage-auditor"
    assert manifest["metadata"]["content_revision"] == pack.content_revision


@pytest.mark.parametrize("name", example_names())
def test_bundle_engine_decides_every_example_like_the_directory(
    name: str, bundle_engine: EmbeddedEngine, policy_engine: EmbeddedEngine
) -> None:
    document = load_example(name)
    assert bundle_engine.evaluate(document) == policy_engine.evaluate(document)
    assert bundle_engine.revision == "2026.10-r1"


def test_rego_tests_pass_from_a_bundle_with_tests(
    pack: PolicyBundle, tmp_path: Path, policy_engine: EmbeddedEngine
) -> None:
    out = tmp_path / "pack.tar.gz"
    write_bundle(pack, out, include_tests=True)
    results = EmbeddedEngine(read_bundle(out), compiled=False).run_tests()

    assert [r for r in results if not r.passed] == []
    assert len(results) == len(policy_engine.run_tests())


@pytest.mark.parametrize("prefix", ["/", "./"], ids=["opa-build", "tar-of-directory"])
def test_reads_the_layout_opa_build_writes(pack: PolicyBundle, tmp_path: Path, prefix: str) -> None:
    """`opa build -b` writes one data.json at the root holding the whole data tree, and a
    manifest whose roots default to everything."""
    out = tmp_path / "opa.tar.gz"
    manifest = {"revision": "opa-build-1", "roots": [""], "rego_version": 1}
    entries = [_entry(prefix, kind=tarfile.DIRTYPE)] if prefix == "./" else []
    entries += [
        _entry(prefix + ".manifest", json.dumps(manifest, indent=1).encode()),
        _entry(prefix + "data.json", json.dumps({"auditor_data": dict(pack.data)}).encode()),
    ]
    entries += [_entry(prefix + m.path, m.text.encode()) for m in pack.modules if not m.is_test]
    _write_tar(out, entries)
    loaded = read_bundle(out)

    assert list(loaded.modules) == [m for m in pack.modules if not m.is_test]
    assert loaded.data == pack.data
    assert loaded.declared_revision == "opa-build-1"


# --------------------------------------------------------------------------- bytes


def test_same_input_same_bytes(pack: PolicyBundle, tmp_path: Path) -> None:
    reordered = replace(pack, data=dict(reversed(list(pack.data.items()))), source="elsewhere")
    first = write_bundle(pack, tmp_path / "a.tar.gz", include_tests=True)
    second = write_bundle(reordered, tmp_path / "b.tar.gz", include_tests=True)

    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()


def test_rsa_signed_bundle_is_deterministic(
    pack: PolicyBundle, tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    private, _public = keys["rsa"]
    first = write_bundle(pack, tmp_path / "a.tar.gz", signing_key=private, key_id=KEY_ID)
    second = write_bundle(pack, tmp_path / "b.tar.gz", signing_key=private, key_id=KEY_ID)
    assert first.path.read_bytes() == second.path.read_bytes()


def test_archive_has_nothing_that_varies(pack: PolicyBundle, tmp_path: Path) -> None:
    out = tmp_path / "pack.tar.gz"
    info = write_bundle(pack, out)
    raw = out.read_bytes()

    assert out.stat().st_mode & 0o777 == 0o600
    assert raw[4:8] == b"\0\0\0\0"  # gzip header mtime
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and names[0] == "/.manifest"
    assert all(m.isreg() and m.mtime == 0 and m.uid == m.gid == 0 for m in members)
    assert {(m.uname, m.gname, m.mode) for m in members} == {("", "", 0o644)}
    assert tuple(n.lstrip("/") for n in names) == info.files
    assert not any(n.endswith("_test.rego") or "auditor_examples" in n for n in names)
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_write_replaces_atomically_and_keeps_the_old_file_on_error(
    pack: PolicyBundle, tmp_path: Path
) -> None:
    out = tmp_path / "pack.tar.gz"
    out.write_bytes(b"previous bundle")
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key")

    with pytest.raises(PolicyError):
        write_bundle(pack, out, signing_key=bad_key)
    assert out.read_bytes() == b"previous bundle"

    write_bundle(pack, out)
    assert read_bundle(out).data == pack.data
    assert out.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- signing


@pytest.mark.parametrize(
    ("key", "key_id", "algorithm"),
    [("rsa", KEY_ID, "RS256"), ("ec", KEY_ID, "ES256"), ("ec", None, "ES256")],
    ids=["rsa", "ec", "ec-no-key-id"],
)
def test_signed_round_trip(
    pack: PolicyBundle,
    tmp_path: Path,
    keys: dict[str, tuple[Path, Path]],
    key: str,
    key_id: str | None,
    algorithm: str,
) -> None:
    private, public = keys[key]
    out = tmp_path / "signed.tar.gz"
    info = write_bundle(pack, out, signing_key=private, key_id=key_id, include_tests=True)
    loaded = read_bundle(out, public_key=public, key_id=key_id)

    assert info == BundleInfo(
        path=out,
        revision=pack.content_revision,
        files=info.files,
        signed=True,
        key_id=key_id,
        sha256=hashlib.sha256(out.read_bytes()).hexdigest(),
    )
    assert ".signatures.json" in info.files
    assert loaded.modules == pack.modules and loaded.examples == pack.examples
    assert _unb64(_token(out).split(".")[0]) == (
        {"alg": algorithm, "kid": key_id} if key_id else {"alg": algorithm}
    )


def test_signature_lists_every_file_as_opa_hashes_it(
    pack: PolicyBundle, tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    out = tmp_path / "signed.tar.gz"
    write_bundle(pack, out, signing_key=keys["rsa"][0], key_id=KEY_ID)
    files = _members(out)
    payload = _unb64(_token(out).split(".")[1])

    listed = {f["name"]: f for f in payload["files"]}
    assert set(listed) == {n.lstrip("/") for n in files} - {".signatures.json"}
    assert ".manifest" in listed  # OPA signs the manifest too
    assert {f["algorithm"] for f in listed.values()} == {"SHA-256"}
    assert payload["keyid"] == KEY_ID and "scope" not in payload
    for name, content in files.items():
        if name.endswith(".rego"):
            assert listed[name[1:]]["hash"] == hashlib.sha256(content).hexdigest()
    data = json.loads(files["/auditor_data/data.json"])
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert (
        listed["auditor_data/data.json"]["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    )


def test_reformatted_json_still_verifies(
    pack: PolicyBundle, tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    """OPA hashes data.json and .manifest parsed, so whitespace and key order do not count."""
    out = tmp_path / "signed.tar.gz"
    write_bundle(pack, out, signing_key=keys["ec"][0], key_id=KEY_ID)
    for name in ("/auditor_data/data.json", "/.manifest"):

        def pretty(files: dict[str, bytes], name: str = name) -> None:
            document = json.loads(files[name])
            files[name] = json.dumps(dict(reversed(document.items())), indent=4).encode()

        _rewrite(out, pretty)
    assert read_bundle(out, public_key=keys["ec"][1], key_id=KEY_ID).data == pack.data


def test_scope_is_checked_as_opa_does(
    pack: PolicyBundle, tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    private, public = keys["ec"]
    out = tmp_path / "signed.tar.gz"
    write_bundle(pack, out, signing_key=private, scope="write")
    assert read_bundle(out, public_key=public, scope="write").data == pack.data
    with pytest.raises(PolicyError, match="scope mismatch"):
        read_bundle(out, public_key=public)


# OPA's file digests (v1/bundle/hash.go): JSON files over their canonical form as Go's encoder
# writes it, other files over their bytes; the expected values are computed here by hand.
@pytest.mark.parametrize(
    ("name", "content", "algorithm", "expected"),
    [
        (
            ".manifest",
            b'{ "revision": "r-7",\n  "roots": ["auditor"] }',
            "SHA-256",
            hashlib.sha256(b'{"revision":"r-7","roots":["auditor"]}').hexdigest(),
        ),
        ("a/b/d/data.json", b" true\n", "SHA-256", hashlib.sha256(b"true").hexdigest()),
        (
            "data.json",
            b'{"x": {"y": true}, "a": {"b": {"z": true}}}',
            "SHA-384",
            hashlib.sha384(b'{"a":{"b":{"z":true}},"x":{"y":true}}').hexdigest(),
        ),
        (
            "a/b/c/data.json",
            b"[ 1, 2, 3 ]",
            "SHA-512",
            hashlib.sha512(b"[1,2,3]").hexdigest(),
        ),
        (  # numbers are hashed as written (json.Number), not re-formatted
            "data.json",
            b'{"n": 1.50, "e": 1E3, "z": -0, "big": 12345678901234567890123}',
            "SHA-256",
            hashlib.sha256(b'{"big":12345678901234567890123,"e":1E3,"n":1.50,"z":-0}').hexdigest(),
        ),
        (  # Go's encoder: no HTML escaping, U+2028 escaped, \b \f short, lone surrogate U+FFFD
            "data.json",
            '{"s": "<a&b> \\u2028 \\u0001\\b\\f\\t\\"\\\\ é \\ud800 \x7f"}'.encode(),
            "SHA-256",
            hashlib.sha256(
                '{"s":"<a&b> \\u2028 \\u0001\\b\\f\\t\\"\\\\ é \ufffd \x7f"}'.encode()
            ).hexdigest(),
        ),
        (  # keys sorted by their UTF-8 bytes
            "x/data.json",
            '{"é": 3, "b": 1, "Z": 4, "a": [2, null, false]}'.encode(),
            "SHA-256",
            hashlib.sha256('{"Z":4,"a":[2,null,false],"b":1,"é":3}'.encode()).hexdigest(),
        ),
        (  # policy files are hashed as raw bytes
            "auditor/x.rego",
            b"package auditor.x\n",
            "SHA-256",
            hashlib.sha256(b"package auditor.x\n").hexdigest(),
        ),
    ],
    ids=[
        "manifest",
        "scalar",
        "object",
        "array",
        "numbers",
        "strings",
        "key-order",
        "rego",
    ],
)
def test_file_hash_follows_opa(name: str, content: bytes, algorithm: str, expected: str) -> None:
    assert file_hash(name, content, algorithm) == expected


# --------------------------------------------------------------------------- refusals

Row = Callable[[Path, PolicyBundle, dict[str, tuple[Path, Path]]], dict[str, Any]]


def _signed(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
    write_bundle(pack, out, signing_key=keys["rsa"][0], key_id=KEY_ID)
    return {"public_key": keys["rsa"][1], "key_id": KEY_ID}


def _unsigned(out: Path, pack: PolicyBundle) -> dict[str, Any]:
    write_bundle(pack, out)
    return {}


def _flip_byte(content: bytes) -> bytes:
    return content[:-2] + bytes([content[-2] ^ 0x01]) + content[-1:]


def _signed_then(change: Callable[[dict[str, bytes]], None]) -> Row:
    def row(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
        kwargs = _signed(out, pack, keys)
        _rewrite(out, change)
        return kwargs

    return row


def _unsigned_then(change: Callable[[dict[str, bytes]], None]) -> Row:
    def row(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
        kwargs = _unsigned(out, pack)
        _rewrite(out, change)
        return kwargs

    return row


def _with_entries(*extra: tuple[tarfile.TarInfo, bytes]) -> Row:
    def row(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
        _unsigned(out, pack)
        files = _members(out)
        _write_tar(out, [_entry(n, c) for n, c in files.items()] + list(extra))
        return {}

    return row


def _raw(make: Callable[[bytes], bytes]) -> Row:
    def row(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
        _unsigned(out, pack)
        out.write_bytes(make(out.read_bytes()))
        return {}

    return row


def _set(name: str, content: bytes) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        files[name] = content

    return change


def _drop(name: str) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        del files[name]

    return change


def _edit(name: str, how: Callable[[bytes], bytes]) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        files[name] = how(files[name])

    return change


def _change_threshold(content: bytes) -> bytes:
    data = json.loads(content)
    data["thresholds"]["__tampered__"] = 1
    return json.dumps(data).encode()


def _without_tools(content: bytes) -> bytes:
    data = json.loads(content)
    del data["tools"]
    return json.dumps(data).encode()


def _other_key(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
    write_bundle(pack, out, signing_key=keys["ec-other"][0], key_id=KEY_ID)
    return {"public_key": keys["ec"][1], "key_id": KEY_ID}


def _key_of_another_type(
    out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]
) -> dict[str, Any]:
    write_bundle(pack, out, signing_key=keys["rsa"][0], key_id=KEY_ID)
    return {"public_key": keys["ec"][1], "key_id": KEY_ID}


def _wrong_key_id(
    out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]
) -> dict[str, Any]:
    return {**_signed(out, pack, keys), "key_id": "someone-else"}


def _alg_none(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
    kwargs = _signed(out, pack, keys)
    _replace_token(out, _forged(out, {"alg": "none", "kid": KEY_ID}, None))
    return kwargs


def _alg_hmac(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
    """The classic confusion: HS256 keyed with the (public) verification key's PEM."""
    kwargs = _signed(out, pack, keys)
    secret = keys["rsa"][1].read_bytes()
    _replace_token(out, _forged(out, {"alg": "HS256", "kid": KEY_ID}, secret))
    return kwargs


def _two_tokens(
    out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]
) -> dict[str, Any]:
    kwargs = _signed(out, pack, keys)
    _replace_token(out, [_token(out), _token(out)])
    return kwargs


def _not_a_tar(out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]) -> dict[str, Any]:
    out.write_bytes(gzip.compress(b"plain text, not a tar archive\n" * 40))
    return {}


def _corrupt_second_header(
    out: Path, pack: PolicyBundle, keys: dict[str, tuple[Path, Path]]
) -> dict[str, Any]:
    _unsigned(out, pack)
    tar = bytearray(gzip.decompress(out.read_bytes()))
    first_size = len(_members(out)["/.manifest"])
    second_header = 512 + (first_size + 511) // 512 * 512
    tar[second_header : second_header + 512] = b"x" * 512
    out.write_bytes(gzip.compress(bytes(tar)))
    return {}


REFUSALS: list[tuple[str, Row, str]] = [
    # Signed bundles, verified with the right key: any change is caught.
    (
        "module-byte-changed",
        _signed_then(_edit("/auditor/main.rego", _flip_byte)),
        "'auditor/main.rego' does not match its signed hash",
    ),
    (
        "data-changed",
        _signed_then(_edit("/auditor_data/data.json", _change_threshold)),
        "'auditor_data/data.json' does not match its signed hash",
    ),
    (
        "manifest-changed",
        _signed_then(_set("/.manifest", b'{"revision":"x","roots":["auditor","auditor_data"]}')),
        "'.manifest' does not match its signed hash",
    ),
    (
        "file-added",
        _signed_then(_set("/auditor/extra.rego", b"package auditor.extra\n")),
        "'auditor/extra.rego' is in the archive but not in the signature",
    ),
    (
        "file-removed",
        _signed_then(_drop("/auditor/rules/pci.rego")),
        "'auditor/rules/pci.rego' is listed in the signature but not in the archive",
    ),
    ("signatures-removed", _signed_then(_drop("/.signatures.json")), "is not signed"),
    ("another-key", _other_key, "does not verify with the public key"),
    ("key-of-another-type", _key_of_another_type, "algorithm 'RS256' is not accepted"),
    ("wrong-key-id", _wrong_key_id, f"names key id '{KEY_ID}', expected 'someone-else'"),
    ("alg-none", _alg_none, "algorithm 'none' is not accepted"),
    ("alg-hmac", _alg_hmac, "algorithm 'HS256' is not accepted"),
    ("two-signatures", _two_tokens, "exactly one JWS"),
    (
        "signatures-not-json",
        _signed_then(_set("/.signatures.json", b"{not json")),
        ".signatures.json is not valid JSON",
    ),
    # Archives that are unsafe or not what they claim, read without a key.
    (
        "symlink",
        _with_entries(_entry("/auditor/link.rego", kind=tarfile.SYMTYPE, link="/etc/passwd")),
        "'/auditor/link.rego' is a symbolic link",
    ),
    (
        "hardlink",
        _with_entries(_entry("/auditor/hard.rego", kind=tarfile.LNKTYPE, link="/auditor/lib.rego")),
        "is a hard link",
    ),
    ("device", _with_entries(_entry("/auditor/dev", kind=tarfile.CHRTYPE)), "is a device"),
    (
        "dot-dot",
        _with_entries(_entry("/../evil.rego", b"package auditor.evil\n")),
        "path contains '..'",
    ),
    (
        "dot-dot-inside",
        _with_entries(_entry("auditor/../../evil.rego", b"package auditor.evil\n")),
        "path contains '..'",
    ),
    ("absolute", _with_entries(_entry("//etc/cron.d/evil", b"x")), "absolute path"),
    (
        "duplicate",
        _with_entries(_entry("auditor/main.rego", b"package auditor.main\n")),
        "holds 'auditor/main.rego' more than once",
    ),
    ("truncated", _raw(lambda raw: raw[: len(raw) // 2]), "is truncated"),
    ("not-gzip", _raw(lambda raw: b"PK\x03\x04 a zip, not a bundle"), "is not a gzip file"),
    ("not-tar", _not_a_tar, "is not a readable tar archive"),
    ("trailing-data", _raw(lambda raw: raw + b"trailing"), "has data after its gzip stream"),
    ("corrupt-header", _corrupt_second_header, "corrupt tar header"),
    (
        "module-outside-roots",
        _unsigned_then(_set("/auditor/evil.rego", b"package evil\n\nallow := true\n")),
        "declares package evil, outside the manifest roots",
    ),
    (
        "data-outside-roots",
        _unsigned_then(_set("/other/data.json", b"{}")),
        "holds data at 'other'",
    ),
    (
        "invalid-json",
        _unsigned_then(_set("/auditor_data/data.json", b'{"tools": "SECRET-MARKER')),
        "'auditor_data/data.json' is not valid JSON",
    ),
    (
        "missing-required-data",
        _unsigned_then(_edit("/auditor_data/data.json", _without_tools)),
        "policy data missing: tools",
    ),
    ("no-manifest", _unsigned_then(_drop("/.manifest")), "has no .manifest"),
    (
        "manifest-without-revision",
        _unsigned_then(_set("/.manifest", b'{"roots": ["auditor", "auditor_data"]}')),
        ".manifest has no revision",
    ),
    (
        "manifest-without-roots",
        _unsigned_then(_set("/.manifest", b'{"revision": "r1"}')),
        ".manifest has no roots list",
    ),
    (
        "rego-v0",
        _unsigned_then(_set("/.manifest", b'{"revision":"r","roots":[""],"rego_version":0}')),
        "declares Rego v0 modules",
    ),
    (
        "unsupported-file",
        _unsigned_then(_set("/README.md", b"# hello\n")),
        "holds unsupported file 'README.md'",
    ),
]


@pytest.mark.parametrize(
    ("row", "expected"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refuses(
    row: Row,
    expected: str,
    pack: PolicyBundle,
    keys: dict[str, tuple[Path, Path]],
    tmp_path: Path,
) -> None:
    out = tmp_path / "pack.tar.gz"
    kwargs = row(out, pack, keys)

    with pytest.raises(PolicyError) as caught:
        read_bundle(out, **kwargs)
    message = caught.value.message
    assert expected in message
    assert message.startswith(f"policy bundle {out}: ")
    assert "\n" not in message
    assert "SECRET-MARKER" not in str(caught.value)


@pytest.mark.parametrize(
    ("limit", "value"),
    [("MAX_MEMBER_BYTES", 1024), ("MAX_TOTAL_BYTES", 4096), ("MAX_MEMBERS", 3)],
)
def test_refuses_archives_over_the_limits(
    pack: PolicyBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, value: int
) -> None:
    out = tmp_path / "pack.tar.gz"
    write_bundle(pack, out)
    monkeypatch.setattr(bundle_module, limit, value)
    with pytest.raises(PolicyError, match="over the (size|member) limit") as caught:
        read_bundle(out)
    assert str(out) in caught.value.message


def test_unsigned_bundle_loads_without_a_key(
    pack: PolicyBundle, tmp_path: Path, keys: dict[str, tuple[Path, Path]]
) -> None:
    """Without a public key no signature is verified: the caller decides whether that is
    allowed. The content revision the manifest records is still checked."""
    out = tmp_path / "signed.tar.gz"
    write_bundle(pack, out, signing_key=keys["ec"][0])
    assert read_bundle(out).data == pack.data
    _rewrite(out, _edit("/auditor/main.rego", _flip_byte))
    with pytest.raises(PolicyError, match="does not match its signed hash"):
        read_bundle(out, public_key=keys["ec"][1])
    with pytest.raises(PolicyError, match="not the ones it was built from"):
        read_bundle(out)


def test_a_changed_unsigned_bundle_cannot_keep_its_revision(
    pack: PolicyBundle, tmp_path: Path
) -> None:
    """Data edited after the build (a threshold raised) under the same declared revision is
    refused; a manifest without the auditor's metadata (`opa build`) is read as declared."""
    out = tmp_path / "pack.tar.gz"
    write_bundle(pack, out, revision="2026.12-release")
    _rewrite(out, _edit("/auditor_data/data.json", _change_threshold))
    with pytest.raises(PolicyError) as caught:
        read_bundle(out)
    assert "not the ones it was built from" in caught.value.message
    assert caught.value.message.startswith(f"policy bundle {out}: ")

    def without_metadata(content: bytes) -> bytes:
        manifest = json.loads(content)
        del manifest["metadata"]
        return json.dumps(manifest).encode()

    _rewrite(out, _edit("/.manifest", without_metadata))
    assert read_bundle(out).revision == "2026.12-release"


# --------------------------------------------------------------------------- keys


def _key_file(tmp_path: Path, key: Any, password: bytes | None = None) -> Path:
    path = tmp_path / "key.pem"
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: ed25519.Ed25519PrivateKey.generate(), "unsupported Ed25519 key"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "unsupported EC secp384r1 key"),
        (lambda: rsa.generate_private_key(65537, 1024), "is a 1024-bit RSA key"),
    ],
    ids=["ed25519", "ec-p384", "rsa-1024"],
)
def test_write_refuses_other_keys(
    pack: PolicyBundle, tmp_path: Path, make: Callable[[], Any], expected: str
) -> None:
    key = _key_file(tmp_path, make())
    with pytest.raises(PolicyError, match=expected):
        write_bundle(pack, tmp_path / "out.tar.gz", signing_key=key)
    assert not (tmp_path / "out.tar.gz").exists()


def test_write_refuses_an_encrypted_key(pack: PolicyBundle, tmp_path: Path) -> None:
    key = _key_file(tmp_path, ec.generate_private_key(ec.SECP256R1()), password=b"pw")
    with pytest.raises(PolicyError, match="is encrypted"):
        write_bundle(pack, tmp_path / "out.tar.gz", signing_key=key)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (PolicyModule("auditor/evil.rego", "package evil\n"), "outside the manifest roots"),
        (PolicyModule("../evil.rego", "package auditor.evil\n"), "path contains '..'"),
    ],
    ids=["package-outside-roots", "path-outside-bundle"],
)
def test_write_refuses_modules_it_cannot_place(
    pack: PolicyBundle, tmp_path: Path, module: PolicyModule, expected: str
) -> None:
    broken = replace(pack, modules=(*pack.modules, module))
    with pytest.raises(PolicyError, match=expected):
        write_bundle(broken, tmp_path / "out.tar.gz")


def test_generate_signing_key(tmp_path: Path) -> None:
    private = tmp_path / "signing.pem"
    public = generate_signing_key(private, "ec")

    assert public == tmp_path / "signing.pub.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    with pytest.raises(PolicyError, match="already exists"):
        generate_signing_key(private, "ec")
    with pytest.raises(PolicyError, match="holds a private key"):
        read_bundle(tmp_path / "any.tar.gz", public_key=private)


def test_a_lone_surrogate_cannot_alias_a_signed_document(
    tmp_path: Path, pack: PolicyBundle
) -> None:
    """The signed hash reads a lone surrogate as U+FFFD (as OPA's Go does); loading it as is
    would let `{"\\ud800": X, "\\udc00": Y}` pass for a signed `{"\\ufffd": Y}`."""
    private = tmp_path / "k.pem"
    public = generate_signing_key(private, "ec")
    data = dict(pack.data)
    data["tools"] = {**data["tools"], "\ufffd": {"approval_status": "prohibited"}}
    signed = tmp_path / "signed.tar.gz"
    write_bundle(
        PolicyBundle(modules=pack.modules, data=data, examples={}), signed, signing_key=private
    )
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(signed) as src, tarfile.open(forged, "w:gz") as dst:
        for member in src.getmembers():
            content = src.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if member.name.endswith("auditor_data/data.json"):
                content = content.replace(
                    b'"\\ufffd":', b'"\\ud800": {"approval_status": "approved"}, "\\udc00":'
                )
                content = content.replace(
                    '"\ufffd":'.encode(), b'"\\ud800": {"approval_status": "approved"}, "\\udc00":'
                )
                member.size = len(content)
            dst.addfile(member, io.BytesIO(content))
    with pytest.raises(PolicyError, match="lone surrogate"):
        read_bundle(forged, public_key=public)
