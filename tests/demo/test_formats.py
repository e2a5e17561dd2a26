"""The demo month reaches the auditor in six formats, and every interaction comes back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.demo import generate_demo
from auditor.demo.formats import DEMO_TOOL_MAP, ROUTES, write_sources
from auditor.ingest.stage import Mappings, ingest_paths


def test_demo_sources_are_detected_and_ingested_whole(session: Session, tmp_path: Path) -> None:
    files = generate_demo(tmp_path / "demo", people=30)
    sources = write_sources(files, tmp_path / "sources")
    formats = {s.source_format for s in sources}
    assert formats >= {
        "chatgpt-compliance",
        "otel",
        "claude-code",
        "langfuse",
        "litellm",
        "openai-chat",
    }
    results = ingest_paths(
        session,
        [s.path for s in sources],
        "auto",
        max_line_bytes=1 << 24,
        mappings=Mappings.from_maps(DEMO_TOOL_MAP, {}),
    )
    by_path = {r.path: r for r in results}
    for source in sources:
        res = by_path[source.path]
        assert res.source_format == source.source_format, source.path.name  # auto chose right
        assert res.reconciles
        if source.interactions >= 0:
            assert (res.loaded, res.rejected) == (source.interactions, 0), source.path.name
    assert (
        sum(r.rejected for r in results) == files.bad_lines - sum(r.warnings != [] for r in results)
        or sum(r.rejected for r in results) <= files.bad_lines
    )
    # Every tool comes back under the registry's id, as the firm's tool_map says.
    tools = set(session.scalars(select(Interaction.tool).distinct()))
    assert tools <= {route[0] for route in ROUTES} | {"perplexity", "chatgpt-free", "deepseek-chat"}
    assert session.scalar(select(func.count(Interaction.id))) >= files.interactions
