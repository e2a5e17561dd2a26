"""Charts are inline SVG: no URL, no script, a text alternative, and data labels as text."""

from __future__ import annotations

import pytest

from auditor.report.charts import bar_chart
from auditor.report.context import Count


@pytest.mark.parametrize(
    "label",
    ["<script>alert(1)</script>", "price $5$ math", 'quote" onload="x()', "{{ 7*7 }}"],
)
def test_labels_from_data_cannot_become_markup(label: str) -> None:
    chart = bar_chart("Tools", [Count(label, 3), Count("other", 1)])
    svg = str(chart.svg)
    assert svg.startswith('<svg role="img"')
    # Quotes in a label are entities, so no attribute can be opened: ` onload="` never appears.
    assert "<script" not in svg and ' onload="' not in svg
    assert "http://" not in svg and "https://" not in svg
    assert chart.alt.startswith("Tools: ") and "3" in chart.alt


def test_same_data_draws_the_same_svg() -> None:
    counts = [Count("light", 4), Count("heavy", 2)]
    assert bar_chart("Tiers", counts).svg == bar_chart("Tiers", counts).svg
