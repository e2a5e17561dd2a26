"""The wheel carries everything a bank needs without the source tree: the rule pack too."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from auditor import config
from auditor.config import INSTALLED_POLICIES, PolicySettings, default_policy_directory

REPO = Path(__file__).resolve().parents[1]


def data_files() -> dict[str, list[str]]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["tool"]["setuptools"]["data-files"]


def test_every_file_of_the_pack_is_installed_where_the_default_looks() -> None:
    files = sorted(
        p.relative_to(REPO).as_posix() for p in (REPO / "policies").rglob("*") if p.is_file()
    )
    assert files
    installed = {}
    for target, patterns in data_files().items():
        for pattern in patterns:
            folder, name = pattern.rsplit("/", 1)
            for f in files:
                # Setuptools globs do not cross folders: the file must be in that folder.
                if Path(f).parent.as_posix() == folder and fnmatch.fnmatch(Path(f).name, name):
                    installed[f] = f"{target}/{Path(f).name}"
    assert sorted(installed) == files, "a file of policies/ is not in [tool.setuptools.data-files]"
    # Each lands at the same place under share/ as under policies/.
    for source, target in installed.items():
        assert target == f"{INSTALLED_POLICIES.as_posix()}/{source.removeprefix('policies/')}"


def test_default_is_the_source_tree_in_a_checkout() -> None:
    assert default_policy_directory() == REPO / "policies"
    assert PolicySettings().directory == REPO / "policies"


def test_default_is_the_installed_copy_without_a_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "REPO_DIR", tmp_path / "site-packages")
    monkeypatch.setattr(config.sys, "prefix", str(tmp_path / "venv"))
    assert default_policy_directory() == tmp_path / "venv" / INSTALLED_POLICIES


def _pins(lines: list[str]) -> dict[str, str]:
    """name -> version of every `name==version` requirement (extras and markers dropped)."""
    import re

    out = {}
    for line in lines:
        m = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_the_lock_file_holds_every_pin_of_pyproject_at_its_version() -> None:
    """`make install` installs requirements.lock: a direct dependency pinned in pyproject.toml
    but missing from the lock, or locked at another version, means the lock is stale (run
    `make lock`)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in ("test", "postgres", "spark"):
        declared += project["optional-dependencies"][extra]
    wanted = _pins(declared)
    locked = _pins((REPO / "requirements.lock").read_text(encoding="utf-8").splitlines())
    assert len(wanted) >= 20
    assert {
        name: (version, locked.get(name))
        for name, version in wanted.items()
        if locked.get(name) != version
    } == {}
    # Unpinned direct dependencies would make the lock the only record of their version.
    unpinned = [r for r in declared if "==" not in r]
    assert unpinned == []
