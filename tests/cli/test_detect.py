"""`auditor detect`: JSON Lines in, offsets out, with the very scanner the pipeline builds."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import load_settings
from auditor.pipeline import Components

CARD = "4111 1111 1111 1111"
CLIENT = "Halvorsen Maritime Holdings"
ACCOUNT = "4402-118734"
TEXTS = [
    {"id": 1, "text": f"Refund card {CARD} for John Smith"},
    {"id": "b", "text": f"Exposure to {CLIENT} on account {ACCOUNT}, Project Kestrel?"},
    {"id": 3, "text": "Write a haiku about spreadsheets."},
    {"id": None, "text": ""},
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("AUDITOR_CONFIG", "AUDITOR_DATABASE__URL", "AUDITOR_SCAN__HASH_KEY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "clients.csv").write_text(
        f"client_id,name,aliases,accounts\nC001,{CLIENT},,{ACCOUNT}\n", encoding="utf-8"
    )
    (tmp_path / "restricted.csv").write_text(
        "term,kind,note\nProject Kestrel,codename,\n", encoding="utf-8"
    )
    path = tmp_path / "auditor.toml"
    path.write_text(
        f'data_dir = "{tmp_path / ".auditor"}"\n'
        "[scan]\n"
        'hash_key = "detect-test-key-padded-to-32-bytes"\n'
        f'client_register = "{tmp_path / "clients.csv"}"\n'
        f'restricted_list = "{tmp_path / "restricted.csv"}"\n',
        encoding="utf-8",
    )
    return path


def _run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch | None = None,
    stdin: str | None = None,
) -> tuple[int, list[dict[str, object]], str]:
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(args)
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines()], out.err


def _expected(config: Path) -> list[dict[str, object]]:
    """What the pipeline's own scanner finds, in detect's output form."""
    scanner = Components(load_settings(config)).scanner
    return [
        {
            "id": t["id"],
            "entities": [
                {
                    "type": h.entity_type,
                    "start": h.start,
                    "end": h.end,
                    "score": round(h.score, 4),
                    **({"subject_id": h.subject_id} if h.subject_id else {}),
                }
                for h in hits
            ],
        }
        for t, hits in zip(TEXTS, scanner.scan_many([str(t["text"]) for t in TEXTS]), strict=True)
    ]


def test_detect_a_file_prints_offsets_never_values(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(t) + "\n" for t in TEXTS), encoding="utf-8")
    code, rows, _ = _run(["--config", str(config), "detect", str(src)], capsys)
    assert code == 0
    assert rows == _expected(config)
    types = {e["type"] for row in rows for e in row["entities"]}  # type: ignore[union-attr]
    assert {"CREDIT_CARD", "PERSON", "CLIENT_NAME", "CLIENT_ACCOUNT", "RESTRICTED_TERM"} <= types
    client = [e for e in rows[1]["entities"] if e["type"] == "CLIENT_NAME"]  # type: ignore[index]
    assert client[0]["subject_id"] == "C001"
    raw = json.dumps(rows)
    for value in (CARD, "4111", CLIENT, "Halvorsen", ACCOUNT, "Kestrel", "John Smith"):
        assert value not in raw


def test_detect_reads_stdin_and_takes_config_after_the_command(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = "".join(json.dumps(t) + "\n" for t in TEXTS)
    code, rows, _ = _run(["detect", "-", "--config", str(config)], capsys, monkeypatch, stdin)
    assert code == 0
    assert rows == _expected(config)


BAD_LINES = [
    ("not json at all", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"text": "no id"}', "no `id`"),
    ('{"id": 1, "text": 5}', "no string `text`"),
]


@pytest.mark.parametrize(("line", "error"), BAD_LINES)
def test_bad_lines_are_reported_without_content_and_the_rest_runs(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    line: str,
    error: str,
) -> None:
    stdin = f"{json.dumps(TEXTS[0])}\n{line}\n{json.dumps(TEXTS[2])}\n"
    code, rows, err = _run(["--config", str(config), "detect"], capsys, monkeypatch, stdin)
    assert code == 1
    assert [r.get("id") for r in rows] == [1, None, 3]
    assert rows[1] == {"line": 2, "error": rows[1]["error"]}
    assert error in str(rows[1]["error"])
    assert "1 input line" in err
    assert line not in json.dumps(rows[1]) and line not in err


def test_missing_file_is_an_error_with_a_hint(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rows, err = _run(["--config", str(config), "detect", str(tmp_path / "nope")], capsys)
    assert code == 1 and rows == []
    assert "cannot read" in err and "hint:" in err


def test_a_text_the_scanner_fails_on_is_reported_alone(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fault injected into the real scanner: it raises on one text, as the pipeline's stage
    # would record it; detect reports that text by its id and exception type, the rest runs.
    from auditor.scan.engine import Scanner

    real = Scanner.scan_results
    marker = "poison 9f2c"

    def scan_results(self, texts, batch_size=64):  # type: ignore[no-untyped-def]
        if any(marker in t for t in texts):
            raise ValueError(f"cannot scan {texts}")  # a message that quotes the text
        return real(self, texts, batch_size)

    monkeypatch.setattr(Scanner, "scan_results", scan_results)
    lines = [TEXTS[0], {"id": "x", "text": f"Call Jane Doe {marker}"}, TEXTS[2]]
    stdin = "".join(json.dumps(t) + "\n" for t in lines)
    code, rows, err = _run(["--config", str(config), "detect"], capsys, monkeypatch, stdin)
    assert code == 1
    assert rows[1] == {"id": "x", "error": "the scanner raised ValueError"}
    assert rows[0] == _expected(config)[0] and rows[2] == _expected(config)[2]
    assert "failed on 1 text" in err
    assert marker not in err and "Jane" not in err and "Jane" not in json.dumps(rows)
