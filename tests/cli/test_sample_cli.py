"""`auditor sample extend` round-trips through `auditor sample verify`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from auditor.config import Settings
from auditor.db.models import Sample
from auditor.db.session import make_engine, session_scope
from auditor.sample.selection import load_manifest, smallest_rescue
from tests.cli.test_cli import cli  # noqa: F401  (the fixture)
from tests.conftest import chat_record, write_jsonl
from tests.sample.test_evaluation import _decide, _finding


def test_extend_then_verify(cli, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    logs = write_jsonl(
        tmp_path / "l.jsonl",
        [
            chat_record(f"e{i:03d}", "hello", when=f"2026-10-{1 + i % 28:02d}T09:00:00Z")
            for i in range(400)
        ],
    )
    assert cli("ingest", str(logs))[0] == 0
    code, out, _ = cli("sample", "draw", "--period", "2026-10", "--seed", "5")
    assert code == 0
    sample_id = out.split("sample ", 1)[1].split(":", 1)[0]
    engine = make_engine(settings.database.url)
    with session_scope(engine) as s:
        sample = s.get(Sample, sample_id)
        assert sample is not None
        ids = _decide(s, sample, {0: "violation"})
        _finding(s, ids[0], "confirmed")
        size = sample.size
    to = smallest_rescue(400, 1, 0.95, 0.05)
    assert to is not None and to > size

    # Without a reason, or too small to change the conclusion: refused, nothing recorded.
    assert cli("sample", "extend", sample_id, "--to", str(to))[0] == 2
    code, _, err = cli("sample", "extend", sample_id, "--to", str(to - 1), "--reason", "r")
    assert code == 1 and f"is {to} items" in err

    code, out, _ = cli(
        "sample", "extend", sample_id, "--to", str(to), "--reason", "a deviation, none expected"
    )
    assert code == 0 and f"by {to - size} item(s) to {to}" in out
    code, out, err = cli("sample", "verify", sample_id)
    assert code == 0, out + err
    assert "after 1 extension(s): re-drawn alike" in out
    assert "listing:           matches" in out
    with Session(engine) as s:
        assert len(load_manifest(s, sample_id).listing) == to
    engine.dispose()
