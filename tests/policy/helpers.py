"""Helpers for the policy tests: example documents and ORM rows in a real database."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from auditor.db.models import Detection, Interaction, Person, Sample, SampleItem, ScanRecord
from auditor.normalize import attribute_text

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
EXAMPLES_DIR = POLICY_DIR / "examples"
SCANNER = "scan-rev-1"
WHEN = datetime(2026, 10, 5, 14, 3, 0)


def load_example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text())


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.json"))


def add_interaction(
    session: Session,
    event_id: str,
    *,
    tool: str | None = "copilot-business",
    user_id: str | None = "u-1001",
    user_email: str | None = None,
    prompt: str | None = "please refactor this function",
    output: str | None = "here you go",
    content_status: str = "present",
    workflow: str | None = "coding",
    attributes: dict[str, Any] | None = None,
) -> Interaction:
    row = Interaction(
        event_id=event_id,
        source_format="test",
        occurred_at=WHEN,
        user_id=user_id,
        user_email=user_email,
        tool=tool,
        provider="github",
        model="gpt-4o",
        prompt_text=prompt,
        output_text=output,
        workflow=workflow,
        content_status=content_status,
        attributes=attributes or {},
    )
    session.add(row)
    session.flush()
    return row


# Directory columns beyond the required ones, as an HR extract gives them (strings).
TRAINED = {
    "barrier_side": "public",
    "ai_literacy_done": "true",
    "ai_literacy_completed_on": "2026-03-02",
}


def add_person(
    session: Session,
    user_id: str,
    *,
    email: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Person:
    row = Person(
        user_id=user_id,
        email=email,
        name="Test Person",
        department="Payments Engineering",
        manager_id="u-0100",
        region="US",
        attributes=dict(TRAINED) if attributes is None else attributes,
        loaded_at=WHEN,
    )
    session.add(row)
    session.flush()
    return row


def add_scan(
    session: Session,
    interaction: Interaction,
    detections: list[tuple[str, float]],
    *,
    fields: tuple[str, ...] = ("prompt", "output"),
    status: str = "scanned",
    revision: str = SCANNER,
    at: datetime = WHEN,
) -> list[Detection]:
    """Scan records for `fields` (and `attributes` when the interaction has attribute text,
    as the scan stage does) and one prompt detection per (entity type, score)."""
    if attribute_text(interaction.attributes) is not None and "attributes" not in fields:
        fields = (*fields, "attributes")
    for field in fields:
        session.add(
            ScanRecord(
                interaction_id=interaction.id,
                field=field,
                scanner_revision=revision,
                status=status,
                chars_scanned=10,
                scanned_at=at,
            )
        )
    rows = [
        Detection(
            interaction_id=interaction.id,
            field="prompt",
            entity_type=entity_type,
            start=0,
            end=4,
            score=score,
            recognizer="test",
            value_hash="0" * 64,
            masked_excerpt="****",
            scanner_revision=revision,
        )
        for entity_type, score in detections
    ]
    session.add_all(rows)
    session.flush()
    return rows


def add_sample(session: Session, sample_id: str, interactions: list[Interaction]) -> Sample:
    sample = Sample(
        id=sample_id,
        period="2026-10",
        created_at=WHEN,
        method="test",
        seed="1",
        seed_source="test",
        generator="test",
        population_filter={},
        population_count=len(interactions),
        population_sha256="0" * 64,
        requested_size=len(interactions),
        size=len(interactions),
        manifest_sha256="0" * 64,
    )
    session.add(sample)
    session.add_all(
        SampleItem(sample_id=sample_id, draw_order=n, interaction_id=i.id)
        for n, i in enumerate(interactions)
    )
    session.flush()
    return sample
