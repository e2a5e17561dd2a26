"""Configuration checked before any work: paths read from the configuration file's folder,
every file, list, key, the pack, the ingest maps and the database checked, each problem naming
the key, the value and the fix; `auditor config check` shows the effective settings with their
sources, secrets masked; a typo in a map refuses the run instead of making findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditor.cli import main
from auditor.config import Settings, load_settings, setting_sources, source_of
from auditor.errors import ConfigError
from auditor.ops.preflight import check_all, effective_settings
from tests.conftest import chat_record, write_jsonl

POLICIES = Path(__file__).resolve().parents[1] / "policies"
KEY = "test-key-padded-to-thirty-two-bytes"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is not the configuration file's folder (as under a scheduler)."""
    for var in ("AUDITOR_CONFIG", "AUDITOR_DATABASE__URL", "AUDITOR_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tmp_path / "etc"


@pytest.mark.parametrize(
    ("line", "read"),
    [
        ('data_dir = "state"', lambda s: s.data_dir),
        ('[scan]\nclient_register = "lists/clients.csv"', lambda s: s.scan.client_register),
        ('[scan]\nrestricted_list = "./lists/r.csv"', lambda s: s.scan.restricted_list),
        ('[policy]\ndirectory = "pack"', lambda s: s.policy.directory),
        ('[policy]\ntools = "firm/tools.json"', lambda s: s.policy.tools),
        ('[report]\noutput_dir = "out"', lambda s: s.report.output_dir),
        ('[report]\nsigning_key = "keys/report.pem"', lambda s: s.report.signing_key),
        ('[notify]\nca_file = "ca.pem"', lambda s: s.notify.ca_file),
        ('[[sources.feed]]\nname = "gw"\npath = "logs/gw"', lambda s: s.sources.feed[0].path),
        (
            '[database]\nurl = "sqlite:///db/auditor.db"',
            lambda s: Path(s.database.url.removeprefix("sqlite:///")),
        ),
    ],
)
def test_relative_paths_in_the_file_are_read_from_its_folder(
    elsewhere: Path, line: str, read: object
) -> None:
    elsewhere.mkdir()
    (elsewhere / "auditor.toml").write_text(line + "\n")
    value = read(load_settings(elsewhere / "auditor.toml"))  # type: ignore[operator]
    assert value.is_absolute() and value.parent.is_relative_to(elsewhere.resolve())


def test_absolute_paths_env_and_defaults_are_left_alone(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere.mkdir()
    (elsewhere / "auditor.toml").write_text('[report]\noutput_dir = "/srv/reports"\n')
    monkeypatch.setenv("AUDITOR_DATA_DIR", "relative-state")
    s = load_settings(elsewhere / "auditor.toml")
    assert s.report.output_dir == Path("/srv/reports")
    assert s.data_dir == Path("relative-state")  # the environment: the working directory
    assert s.policy.directory == POLICIES  # the default pack


def test_sources_default_file_environment_command_line(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere.mkdir()
    cfg = elsewhere / "auditor.toml"
    cfg.write_text(
        '[sample]\nsize = 50\nseed = 1\n[ingest.tool_map]\nchatgpt = "chatgpt-enterprise"\n'
    )
    monkeypatch.setenv("AUDITOR_SAMPLE__SEED", "9")
    sources = setting_sources(cfg, {"tiers": {"breadth_cap": 4}})
    assert source_of("sample.size", sources) == f"file {cfg}"
    assert source_of("sample.seed", sources) == "environment AUDITOR_SAMPLE__SEED"
    assert source_of("tiers.breadth_cap", sources) == "command line"
    assert source_of("tiers.window_days", sources) == "default"
    assert source_of("ingest.tool_map", sources) == f"file {cfg}"


SECRETS = {
    "AUDITOR_SCAN__HASH_KEY": KEY,
    "AUDITOR_NOTIFY__PASSWORD": "smtp-password-never-shown",
    "AUDITOR_SERVE__AUTH__OIDC_CLIENT_SECRET": "oidc-secret-never-shown",
    "AUDITOR_POLICY__OPA_TOKEN": "opa-token-never-shown",
}


def test_effective_settings_mask_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    url = "postgresql://auditor:db-password-never-shown@db.example:5432/audit"
    s = load_settings(None, database={"url": url})
    rows = {
        r.key: r for r in effective_settings(s, setting_sources(None, {"database": {"url": url}}))
    }
    text = json.dumps([r.__dict__ for r in rows.values()])
    assert "never-shown" not in text and KEY not in text
    assert rows["database.url"].value == "postgresql+psycopg://auditor:***@db.example:5432/audit"
    assert rows["database.url"].source == "command line"
    assert rows["scan.hash_key"].source == "environment AUDITOR_SCAN__HASH_KEY"


# A gallery of configurations that must be refused: (file lines, extra files, key, words).
BROKEN = [
    ('[scan]\nclient_register = "missing.csv"', {}, "scan.client_register", "does not exist"),
    (
        '[scan]\nrestricted_list = "r.csv"',
        {"r.csv": "wrong,header\nx,y\n"},
        "scan.restricted_list",
        "r.csv",
    ),
    ('[policy]\ndirectory = "no-pack"', {}, "policy.directory", "does not exist"),
    ('[policy]\ntools = "tools.json"', {"tools.json": "[1, 2]"}, "policy.tools", "JSON object"),
    (
        '[policy]\ntools = "tools.json"',
        {"tools.json": '{"acme-gpt": {"name": "Acme"}}'},
        "policy.tools",
        "approval_status",
    ),
    (
        '[ingest.tool_map]\nchatgpt = "chatgpt-enterprize"',
        {},
        "ingest.tool_map.chatgpt",
        "did you mean 'chatgpt-enterprise'",
    ),
    (
        '[ingest.workflow_map]\nclient_comms = "client_com"',
        {},
        "ingest.workflow_map.client_comms",
        "did you mean 'client_comm'",
    ),
    ('[report]\nsigning_key = "nope.pem"', {}, "report.signing_key", "does not exist"),
    ('[scan]\nhash_key = "short"', {}, "scan.hash_key", "at least 32"),
    ('[scan]\nmodel = "no_such_spacy_model"', {}, "scan.model", "not installed"),
    ('[report]\noutput_dir = "taken"', {"taken": "a file"}, "report.output_dir", "not a folder"),
]


@pytest.mark.parametrize(("lines", "files", "key", "words"), BROKEN)
def test_config_check_names_key_value_and_fix(
    elsewhere: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lines: str,
    files: dict[str, str],
    key: str,
    words: str,
) -> None:
    elsewhere.mkdir()
    for name, content in files.items():
        (elsewhere / name).write_text(content)
    cfg = elsewhere / "auditor.toml"
    cfg.write_text(f'data_dir = "state"\n{lines}\n')
    if "hash_key" not in lines:
        monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", KEY)
    code = main(["--config", str(cfg), "config", "check"])
    out = capsys.readouterr()
    assert code == 1
    [error] = [line for line in out.err.splitlines() if line.startswith(f"error: {key} = ")]
    assert words in error and "(fix: " in error
    assert "short" not in out.out + out.err or key != "scan.hash_key"  # the key is masked


@pytest.mark.both_databases
def test_config_check_passes_a_good_configuration_and_opens_the_database(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "firm-tools.json").write_text(
        json.dumps(
            {
                "acme-gpt": {
                    "name": "Acme GPT",
                    "approval_status": "approved",
                    "destination": "internal",
                    "approved_workflows": ["coding"],
                }
            }
        )
    )
    cfg = tmp_path / "auditor.toml"
    cfg.write_text('[policy]\ntools = "firm-tools.json"\n[ingest.tool_map]\nacme = "acme-gpt"\n')
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", KEY)
    assert main(["--config", str(cfg), "db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "config", "check", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["config_file"] == str(cfg.resolve())
    shown = {r["key"]: r for r in doc["settings"]}
    assert shown["policy.tools"]["value"] == str(tmp_path.resolve() / "firm-tools.json")
    assert shown["policy.tools"]["source"] == f"file {cfg}"
    assert shown["database.url"]["source"] == "environment AUDITOR_DATABASE__URL"
    assert not [p for p in doc["problems"] if p["level"] == "error"]


@pytest.mark.both_databases
def test_a_database_of_another_key_or_a_newer_schema_is_refused(
    settings: Settings, engine: object
) -> None:
    from sqlalchemy import text

    from auditor.db.keys import KEY_ID
    from auditor.db.models import Meta
    from auditor.db.session import session_scope

    with session_scope(engine) as session:  # type: ignore[arg-type]
        session.add(Meta(key=KEY_ID, value="0123456789abcdef"))
    [problem] = [p for p in check_all(settings) if p.level == "error"]
    assert problem.key == "scan.hash_key" and "0123456789abcdef" in problem.message
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE alembic_version SET version_num = '29991231_future'"))
    [problem] = [p for p in check_all(settings) if p.level == "error"]
    assert problem.key == "database.url" and "newer than this auditor" in problem.message


def test_firm_tool_registry_adds_a_tool_without_copying_the_pack(tmp_path: Path) -> None:
    """The firm's registry (policy.tools) makes a tool known to the rules, the tiers and the
    map check; the pack's revision changes with it."""
    from auditor.policy.engine import build_unguarded, load_pack
    from auditor.tiers import load_approved_workflows

    firm = tmp_path / "tools.json"
    firm.write_text(
        json.dumps(
            {
                "acme-gpt": {
                    "name": "Acme GPT",
                    "vendor": "Acme",
                    "approval_status": "approved",
                    "destination": "internal",
                    "pci_scope": True,
                    "npi_contract": True,
                    "captured": True,
                    "log_retention_days": 2000,
                    "model_inventory_id": "MI-9",
                    "employee_evaluation_assessed": True,
                    "approved_workflows": ["coding"],
                }
            }
        )
    )
    doc = json.loads((POLICIES / "examples" / "clean_internal.json").read_text())
    doc["interaction"]["tool"], doc["interaction"]["workflow"] = "acme-gpt", "coding"
    plain = load_settings(None)
    firmed = load_settings(None, policy={"tools": str(firm)})
    unregistered = {v.rule_id for v in build_unguarded(plain.policy).evaluate(doc)}
    registered = {v.rule_id for v in build_unguarded(firmed.policy).evaluate(doc)}
    assert "unapproved-tool" in unregistered and "unapproved-tool" not in registered
    assert load_pack(firmed.policy).revision != load_pack(plain.policy).revision
    assert load_approved_workflows(firmed.policy.directory, firm)["acme-gpt"] == {"coding"}
    mapped = load_settings(
        None, policy={"tools": str(firm)}, ingest={"tool_map": {"acme": "acme-gpt"}}
    )
    assert not [p for p in check_all(mapped, database=False) if p.key.startswith("ingest.")]


@pytest.mark.both_databases
def test_a_typo_in_the_tool_map_refuses_the_run_before_any_work(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from auditor.db.models import Interaction
    from auditor.db.session import make_engine, session_scope, upgrade

    cfg = tmp_path / "auditor.toml"
    cfg.write_text('[ingest.tool_map]\nchatgpt = "chatgpt-enterprize"\n')
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", KEY)
    logs = write_jsonl(tmp_path / "l.jsonl", [chat_record("e1", "hello", tool="chatgpt")])
    for argv in (["run", str(logs)], ["ingest", str(logs)]):
        assert main(["--config", str(cfg), *argv]) == 1
        err = capsys.readouterr().err
        assert "ingest.tool_map.chatgpt = chatgpt-enterprize" in err and "chatgpt-enterprise" in err
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            assert session.scalar(select(func.count(Interaction.id))) == 0
    finally:
        engine.dispose()


def test_command_line_beats_environment_beats_file_key_by_key(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere.mkdir()
    cfg = elsewhere / "auditor.toml"
    cfg.write_text("[sample]\nsize = 50\nseed = 1\nconfidence = 0.9\n")
    monkeypatch.setenv("AUDITOR_SAMPLE__SEED", "9")
    monkeypatch.setenv("AUDITOR_SAMPLE__SIZE", "8")
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", KEY)
    s = load_settings(cfg, sample={"size": 3})
    assert (s.sample.size, s.sample.seed, s.sample.confidence) == (3, 9, 0.9)
    argv = ["--config", str(cfg), "--set", "sample.size=4", "--set", 'scan.allow_list=["Acme"]']
    assert main([*argv, "config", "check", "--no-database", "--format", "json"]) == 0
    shown = {r["key"]: r for r in json.loads(capsys.readouterr().out)["settings"]}
    assert (shown["sample.size"]["value"], shown["sample.size"]["source"]) == ("4", "command line")
    assert shown["scan.allow_list"]["value"] == '["Acme"]'
    assert shown["sample.seed"]["source"] == "environment AUDITOR_SAMPLE__SEED"
    assert shown["sample.confidence"]["source"] == f"file {cfg}"


@pytest.mark.parametrize("bad", ["sample.size", "=3", "sample..size=3"])
def test_a_malformed_set_is_refused(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--set", bad, "config", "check", "--no-database"]) == 1
    assert "is not KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[sample]\nsizee = 4\n",
            "sample.sizee: Extra inputs are not permitted (given 4); did you mean sample.size?",
        ),
        (
            '[scan]\nscore_threshold = "high"\n',
            "scan.score_threshold: Input should be a valid number",
        ),
        ('[scan]\nscore_threshold = "high"\n', "(given 'high')"),
        ('[policy]\nengine = "opa-rust"\n', "(given 'opa-rust')"),
    ],
)
def test_a_bad_value_names_key_value_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    cfg = tmp_path / "auditor.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert str(cfg) in info.value.message and expected in info.value.message


def test_a_secret_given_badly_is_never_repeated(tmp_path: Path) -> None:
    cfg = tmp_path / "auditor.toml"
    cfg.write_text('[notify]\npassword = ["hunter2-not-shown"]\n[database]\nurl = 5\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert "notify.password" in info.value.message and "hunter2" not in info.value.message


def test_a_bundle_built_with_the_firm_registry_carries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from auditor.policy.engine import load_pack

    monkeypatch.chdir(tmp_path)
    firm = tmp_path / "tools.json"
    firm.write_text(
        json.dumps({"acme-gpt": {"approval_status": "approved", "approved_workflows": ["coding"]}})
    )
    out = tmp_path / "pack.tar.gz"
    argv = ["--set", f'policy.tools="{firm}"', "policy", "bundle", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    bundled = load_settings(None, policy={"source": str(out), "allow_unsigned_bundle": True})
    assert "acme-gpt" in load_pack(bundled.policy).data["tools"]
    both = load_settings(None, policy={"source": str(out), "tools": str(firm)})
    with pytest.raises(Exception, match="a bundle carries its own tool registry"):
        load_pack(both.policy)
