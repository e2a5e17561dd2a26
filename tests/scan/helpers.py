"""Shared setup for the scan tests: interactions with given texts drawn as one sample, and the
prompts and outputs of a small demo month."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from auditor.db.models import Interaction, Sample, SampleItem
from auditor.demo.generator import generate_demo
from auditor.normalize import normalize_openai_chat


def demo_texts(folder: Path, people: int = 30) -> list[str]:
    """Every prompt and output of a demo month generated into `folder`, in log order,
    duplicates dropped."""
    files = generate_demo(folder, people=people, bad_lines=False)
    texts: list[str] = []
    for row in files.truth_file.read_text(encoding="utf-8").splitlines():
        truth = json.loads(row)
        line = (folder / truth["file"]).read_bytes().splitlines()[truth["line"] - 1]
        record = normalize_openai_chat(json.loads(line), source_format="openai-chat")
        texts.extend(t for t in (record.prompt_text, record.output_text) if t)
    return list(dict.fromkeys(texts))


def seed_sample(
    session: Session, rows: Sequence[tuple[str, str | None, str | None, str]], sample_id: str
) -> list[int]:
    """Add one interaction per (event_id, prompt, output, content_status) row and a sample
    `sample_id` of all of them in that order; returns their ids."""
    ids = []
    for event_id, prompt, output, status in rows:
        interaction = Interaction(
            event_id=event_id,
            source_format="test",
            occurred_at=datetime(2026, 10, 5, 10, 0),
            user_id="u00001",
            prompt_text=prompt,
            output_text=output,
            content_status=status,
        )
        session.add(interaction)
        session.flush()
        ids.append(interaction.id)
    session.add(
        Sample(
            id=sample_id,
            period="2026-10",
            created_at=datetime(2026, 11, 1),
            method="simple_random",
            seed="1",
            seed_source="test",
            generator="test",
            population_count=len(ids),
            population_sha256="0" * 64,
            requested_size=len(ids),
            size=len(ids),
            manifest_sha256="0" * 64,
        )
    )
    session.add_all(
        SampleItem(sample_id=sample_id, draw_order=i, interaction_id=iid)
        for i, iid in enumerate(ids)
    )
    session.flush()
    return ids
