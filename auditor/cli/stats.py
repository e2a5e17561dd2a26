"""`auditor stats`: audit-sampling statistics (sizing and evaluation), printed as JSON.

Confidence levels and rates are fractions only (0.95, 0.05): a value outside (0, 1), such
as 95, is a usage error (exit 2) rather than a guess at what was meant. Inconsistent
combinations (more deviations than items, a sample larger than the population) are reported
by the library as errors with a hint (exit 1).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from auditor.sample.stats import (
    conclusion,
    review_bounds,
    review_conclusion,
    sample_size,
    stated_limit,
    stated_rate,
    two_sided_interval,
    upper_limit,
)

app = typer.Typer(
    help="Audit-sampling statistics (AICPA attribute sampling). Rates and confidence levels "
    "are fractions: 0.95, not 95.",
    no_args_is_help=True,
)


def _fraction(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 < value < 1):
        raise typer.BadParameter(
            f"{value:g} is not a fraction strictly between 0 and 1; give e.g. 0.95 for 95%"
        )
    return value


ConfidenceOption = Annotated[
    float,
    typer.Option(
        help="Confidence level as a fraction, e.g. 0.95 (risk of overreliance 5%).",
        callback=_fraction,
    ),
]
PopulationOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Population size N: use the hypergeometric (without replacement) instead of the "
        "binomial. Worth giving when the sample is a sizeable share of a small population.",
    ),
]


def _echo(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2))


@app.command("sample-size")
def sample_size_cmd(
    confidence: ConfidenceOption,
    tolerable_rate: Annotated[
        float,
        typer.Option(
            help="Tolerable deviation rate as a fraction, e.g. 0.05 for 5%.", callback=_fraction
        ),
    ],
    expected_deviations: Annotated[
        int,
        typer.Option(
            min=0,
            help="Deviations expected (and allowed) in the sample: the bracketed number in "
            "AICPA Tables A-1/A-2.",
        ),
    ] = 0,
    population: PopulationOption = None,
) -> None:
    """Smallest sample for a test of controls (AICPA Tables A-1/A-2), as JSON."""
    n = sample_size(confidence, tolerable_rate, expected_deviations, population)
    _echo(
        {
            "method": "binomial" if population is None else "hypergeometric",
            "confidence": confidence,
            "tolerable_rate": tolerable_rate,
            "expected_deviations": expected_deviations,
            "population": population,
            "sample_size": n,
            # What the auditor will see if the expected deviations are found: just below TDR.
            "upper_limit_at_expected_deviations": upper_limit(
                n, expected_deviations, confidence, population
            ),
        }
    )


@app.command("upper-limit")
def upper_limit_cmd(
    sample_size: Annotated[int, typer.Option(min=1, help="Items tested.")],
    deviations: Annotated[int, typer.Option(min=0, help="Deviations found among them.")],
    confidence: ConfidenceOption,
    population: PopulationOption = None,
    tolerable_rate: Annotated[
        float | None,
        typer.Option(
            help="Tolerable deviation rate as a fraction; when given, the output adds the "
            "conclusion (relied on or not).",
            callback=_fraction,
        ),
    ] = None,
    awaiting: Annotated[
        int,
        typer.Option(
            min=0,
            help="Sampled items still awaiting review, each a deviation if confirmed (not "
            "counted in --deviations). With --tolerable-rate, the output gives the result if "
            "none and if all are confirmed, and the tipping point: the fewest confirmations "
            "that make the control unreliable.",
        ),
    ] = 0,
) -> None:
    """Upper deviation limit of a sample (AICPA Tables A-3/A-4, unrounded), as JSON.

    `two_sided` is the central Clopper-Pearson interval at the same confidence (binomial even
    when a population is given). `stated_*` are the figures as the report states them (limits
    rounded up).
    """
    if awaiting and tolerable_rate is None:
        raise typer.BadParameter(
            "--awaiting needs --tolerable-rate: the tipping point is where the limit crosses it",
            param_hint="--awaiting",
        )
    upper = upper_limit(sample_size, deviations, confidence, population)
    low, high = two_sided_interval(sample_size, deviations, confidence)
    rate = deviations / sample_size
    payload: dict[str, Any] = {
        "method": "binomial" if population is None else "hypergeometric",
        "confidence": confidence,
        "sample_size": sample_size,
        "deviations": deviations,
        "population": population,
        "sample_rate": rate,
        "upper_limit": upper,
        "stated_sample_rate": stated_rate(rate),
        "stated_upper_limit": stated_limit(upper, tolerable_rate),
        "allowance_for_sampling_risk": upper - rate,
        "two_sided": [low, high],
        "two_sided_method": "clopper-pearson",
    }
    if tolerable_rate is not None:
        bounds = review_bounds(
            sample_size, deviations, awaiting, confidence, tolerable_rate, population
        )
        payload["tolerable_rate"] = tolerable_rate
        payload["awaiting"] = awaiting
        payload["status"] = bounds.status
        payload["relied_on"] = upper <= tolerable_rate if not awaiting else None
        if awaiting:
            payload["if_none_confirmed"] = _end(bounds.none_confirmed, tolerable_rate)
            payload["if_all_confirmed"] = _end(bounds.all_confirmed, tolerable_rate)
            payload["tipping_point"] = bounds.tipping_point
            payload["conclusion"] = review_conclusion(bounds)
        else:
            payload["conclusion"] = conclusion(upper, tolerable_rate, confidence, rate)
    _echo(payload)


def _end(outcome: Any, tolerable_rate: float) -> dict[str, Any]:
    return {
        "deviations": outcome.deviations,
        "sample_rate": outcome.rate,
        "upper_limit": outcome.upper,
        "relied_on": outcome.relied,
        "stated_sample_rate": stated_rate(outcome.rate),
        "stated_upper_limit": stated_limit(outcome.upper, tolerable_rate),
    }
