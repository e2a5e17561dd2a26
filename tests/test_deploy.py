"""The scheduling examples under deploy/ run commands the CLI accepts, with settings that
exist, and keep the promises the README makes: no overlapping runs, secrets from a secret
store, SIGTERM with time to stop, exit 3 not a failed unit."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.cli import main
from auditor.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _parses(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Parse an `auditor` command line with the real CLI without running it (`--help` at the
    end: options are checked as they come, then help exits 0); returns the help text, which
    names the command. An unknown command or option exits 2. A leading `--config FILE` is
    checked for its form and left out."""
    if argv[:1] == ["--config"]:
        # The root option reads the file at once; the examples' file is on the target machine.
        assert argv[1].endswith(".toml")
        argv = argv[2:]
    code = main([*argv, "--help"])
    out = capsys.readouterr().out
    assert code == 0, f"{argv} is refused by the CLI"
    return out


RUN_HELP = "The scheduled job"


def _setting_exists(env_name: str) -> bool:
    model: Any = Settings
    for part in env_name.removeprefix("AUDITOR_").lower().split("__"):
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return False
        model = fields[part].annotation
    return True


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name)
    return parser


def test_systemd_service_runs_the_audit_and_stops_it_gracefully(
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = _unit("ai-usage-auditor.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/auditor")
    assert RUN_HELP in _parses(argv[1:], capsys)
    assert argv[argv.index("--wait") + 1] == "600"
    assert service["SuccessExitStatus"].split() == ["3"]
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 60
    name, _ = service["Environment"].split("=", 1)
    assert _setting_exists(name)
    timer = _unit("ai-usage-auditor.timer")["Timer"]
    assert timer["Persistent"] == "true" and timer["OnCalendar"]


def test_cron_line_runs_the_audit(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        line
        for line in (DEPLOY / "cron" / "ai-usage-auditor").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    [line] = lines
    fields = line.split(None, 6)
    assert fields[5] == "auditor"  # /etc/cron.d lines name the user
    command = fields[6].split("; ")[2].split(" >>")[0]
    argv = shlex.split(command)
    assert argv[0].endswith("/auditor") and RUN_HELP in _parses(argv[1:], capsys)


def test_kubernetes_cronjob_never_overlaps_and_takes_secrets_from_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text())
    assert job["kind"] == "CronJob" and job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] >= 60
    [container] = pod["containers"]
    assert RUN_HELP in _parses(container["args"], capsys)
    env = {e["name"]: e for e in container["env"]}
    assert all(_setting_exists(name) for name in env), sorted(env)
    for secret in ("AUDITOR_DATABASE__URL", "AUDITOR_SCAN__HASH_KEY"):
        assert "secretKeyRef" in env[secret]["valueFrom"], secret
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert env["AUDITOR_REPORT__OUTPUT_DIR"]["value"] in mounts
    assert not mounts[env["AUDITOR_REPORT__OUTPUT_DIR"]["value"]].get("readOnly")
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes


@pytest.mark.parametrize("argv", [["run", "--no-such-option", "x"], ["no-such-command"]])
def test_the_parser_check_catches_a_wrong_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--help"]) == 2


def _containerfile() -> list[tuple[str, str]]:
    """The Containerfile's instructions as (INSTRUCTION, arguments), continuations joined."""
    text = (DEPLOY / "container" / "Containerfile").read_text()
    joined = text.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_container_image_is_slim_non_root_and_needs_no_network_at_run_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import re
    import tomllib

    steps = _containerfile()
    [base] = [a for i, a in steps if i == "FROM"]
    assert re.fullmatch(r"python:3\.11-slim-\w+", base), base
    # The spaCy model and the auditor installed from the index at build time, the model
    # pinned as pyproject.toml pins it.
    pyproject = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    [model_pin] = [d for d in pyproject["project"]["dependencies"] if d.startswith("en-core-web")]
    installs = [a for i, a in steps if i == "RUN" and "pip install" in a]
    assert installs and all("--index-url" in a for a in installs)
    assert any(f'"{model_pin}"' in a and "[postgres]" in a for a in installs)
    for instruction, args in steps:
        if instruction == "COPY":
            for source in args.split()[:-1]:
                assert (DEPLOY.parent / source).exists(), source
    # Never root: the user the Kubernetes example runs as.
    [user] = [a for i, a in steps if i == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    job = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text())
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert int(user.split(":")[0]) == pod["securityContext"]["runAsUser"]
    # The entrypoint is the CLI; the default command and the build-time checks parse.
    [entrypoint] = [json.loads(a) for i, a in steps if i == "ENTRYPOINT"]
    assert entrypoint == ["auditor"]
    [cmd] = [json.loads(a) for i, a in steps if i == "CMD"]
    assert main(cmd) == 0
    capsys.readouterr()
    env: dict[str, str] = {}
    for instruction, args in steps:
        if instruction == "ENV":
            env.update(dict(pair.split("=", 1) for pair in args.split()))
    settings_env = {k: v for k, v in env.items() if k.startswith("AUDITOR_")}
    assert all(_setting_exists(k) or k == "AUDITOR_LOG_FORMAT" for k in settings_env), settings_env
    assert settings_env["AUDITOR_LOG_FORMAT"] in ("plain", "json")
    [check] = [a for i, a in steps if i == "RUN" and "auditor config check" in a]
    argv = shlex.split(check.split("auditor config check", 1)[1].split(">")[0])
    # The build-time check passes on an empty image's folders, without network.
    for name, value in settings_env.items():
        folder = tmp_path / value.strip("/") if value.startswith("/") else None
        if folder is not None:
            folder.mkdir(parents=True)
            value = str(folder)
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDITOR_DATABASE__URL", raising=False)
    assert main(["config", "check", *argv]) == 0
