"""Charts for the report: inline SVG drawn by matplotlib from the report context.

No JavaScript, no external resources: each chart is an `<svg>` element in the page, with a
title and a text alternative. Bars are told apart by hatching and shades of grey as well as
colour, so a greyscale print keeps them readable. Labels come from the data (tool and
department names from logs), so matplotlib's math parsing is off and the SVG is checked to
hold no script before it is marked safe.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from auditor.report.context import Count, ReportContext

# Dark-to-light greys with distinct hatches: readable in colour, greyscale and print.
FILLS = ("#1f3a5f", "#5b7aa3", "#9fb3cf", "#d5dde9")
HATCHES = ("", "//", "..", "xx")
SEVERITY_FILLS = {"critical": "#7a1010", "high": "#b5470b", "medium": "#b08a00", "low": "#6b7280"}
_UNSAFE_TAG = re.compile(r"^<\s*(script|foreignObject|iframe)|\son\w+\s*=|javascript:", re.I)


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart and the sentence that describes it for screen readers and print."""

    svg: Markup
    alt: str


def bar_chart(
    title: str, counts: Sequence[Count], *, fills: Sequence[str] | None = None, unit: str = ""
) -> Chart:
    """A horizontal bar chart of labelled counts, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [str(c.key).replace("_", " ") for c in counts]
    values = [int(c.count) for c in counts]
    with plt.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: searchable, no embedded glyph paths
            "text.parse_math": False,  # "$" in a tool name is not LaTeX
            "font.size": 9,
            "svg.hashsalt": "auditor",  # stable ids: the same data draws the same SVG
        }
    ):
        height = 0.35 * max(len(values), 1) + 0.8
        fig, ax = plt.subplots(figsize=(6.4, height))
        try:
            positions = list(range(len(values)))[::-1]
            for i, (pos, value) in enumerate(zip(positions, values, strict=True)):
                colour = (fills or FILLS)[i % len(fills or FILLS)]
                ax.barh(
                    pos,
                    value,
                    color=colour,
                    edgecolor="#111111",
                    linewidth=0.6,
                    hatch=HATCHES[i % len(HATCHES)] if not fills else "",
                )
                ax.text(value, pos, f" {value:,}", va="center", fontsize=8)
            ax.set_yticks(positions, labels)
            ax.set_title(title, loc="left", fontsize=10)
            ax.spines[["top", "right"]].set_visible(False)
            ax.set_xlim(0, max(values + [1]) * 1.15)
            ax.xaxis.set_visible(False)
            fig.tight_layout()
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: the page is HTML
    # Inline SVG in HTML needs no namespace declarations (the HTML parser supplies them) and
    # no RDF metadata; without them the page names no URL at all.
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    # matplotlib repeats label text in comments; drop them (text nodes are escaped already).
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    # Data can only reach text nodes (escaped); a tag with active content means a bug here.
    if any(_UNSAFE_TAG.search(tag) for tag in re.findall(r"<[^>]*>", svg)):
        raise ValueError("chart SVG holds active content")
    alt = f"{title}: " + "; ".join(
        f"{lab} {val:,}{unit}" for lab, val in zip(labels, values, strict=True)
    )
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(alt)}" ', 1)
    return Chart(svg=Markup(svg), alt=alt)


def report_charts(ctx: ReportContext) -> dict[str, Chart]:
    """The charts a report shows, keyed by where they go."""
    charts = {"tiers": bar_chart("People per usage tier", ctx.usage.tiers, unit=" people")}
    severities = [c for c in ctx.findings.by_severity]
    if any(c.count for c in severities):
        charts["severity"] = bar_chart(
            "Findings by severity",
            severities,
            fills=[SEVERITY_FILLS.get(str(c.key), FILLS[0]) for c in severities],
        )
    return charts
