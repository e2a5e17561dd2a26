"""Charts are inline SVG: no URL, no script, a text alternative, and data labels as text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from auditor.report.charts import bar_chart
from auditor.report.context import Count


def _markup_of(svg: str) -> tuple[set[str], set[str]]:
    """Element and attribute names an HTML parser finds in `svg`."""
    tags: set[str] = set()
    attributes: set[str] = set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.add(tag)
            attributes.update(name for name, _ in attrs)

    Collect().feed(svg)
    return tags, attributes


@pytest.mark.parametrize(
    "label",
    ["<script>alert(1)</script>", "price $5$ math", 'quote" onload="x()', "{{ 7*7 }}"],
)
def test_labels_from_data_cannot_become_markup(label: str) -> None:
    chart = bar_chart("Tools", [Count(label, 3), Count("other", 1)])
    svg = str(chart.svg)
    assert svg.startswith('<svg role="img"')
    # Parsed as a browser would: the label stays text, it opens no element or attribute.
    tags, attributes = _markup_of(svg)
    assert "script" not in tags
    assert not [a for a in attributes if a.startswith("on")]
    assert "http://" not in svg and "https://" not in svg
    assert chart.alt.startswith("Tools: ") and "3" in chart.alt


def test_same_data_draws_the_same_svg() -> None:
    counts = [Count("light", 4), Count("heavy", 2)]
    assert bar_chart("Tiers", counts).svg == bar_chart("Tiers", counts).svg
