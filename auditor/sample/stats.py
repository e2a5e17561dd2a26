"""Attribute-sampling statistics for tests of controls: sample sizes, upper deviation limits,
stratified estimates and the auditor's conclusion.

Conventions (AICPA *Audit Sampling* 2017 Appendix A; ISA 530):

- Rates and confidence levels are fractions (0.95, not 95). Risk of overreliance is
  beta = 1 - confidence.
- Sizes follow AICPA *Audit Sampling* (2017) Tables A-1/A-2: the smallest n with
  P(X <= k | n, p_T) <= beta under the binomial. With a population size N the hypergeometric
  is used with a tolerable count K = ceil(p_T * N): the smallest whole number of deviations
  that is at or above the tolerable rate, so the test is exactly H0: "rate >= p_T". This is
  the dual of `upper_limit(..., population=N) < p_T` and the same rule as jfa's
  `planning()`. It reproduces EZ-Quant's finite-population tables, though there p_T * N is
  whole and floor() would agree; when it is not whole, floor() tests a stricter hypothesis
  than "rate >= p_T" and asks for more items than needed.
- Upper deviation limits are one-sided exact Clopper-Pearson bounds (Beta quantiles);
  AICPA Tables A-3/A-4 print them rounded up to 0.1%. With N given, the bound is the largest
  population count K not rejected at the confidence level, divided by N.
- Stratified estimates use Korn-Graubard (R's `survey::svyciprop(method="beta")`, without
  its degrees-of-freedom adjustment) and a conservative Bonferroni bound.

Everything raises `InputError` (with a hint) on invalid input; nothing prints.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scipy.stats import beta as beta_dist
from scipy.stats import binom, hypergeom

from auditor.errors import InputError

# A search for a sample size stops here rather than loop on absurd inputs (p_T of 1e-12).
_MAX_SAMPLE_SIZE = 10**9


# --- validation -------------------------------------------------------------------------------


def _is_real(value: object) -> bool:
    # NaN fails every comparison, so the range checks that follow also refuse it.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_fraction(name: str, value: float) -> float:
    if not _is_real(value) or not 0 < value < 1:
        raise InputError(
            f"{name} must be a fraction strictly between 0 and 1, got {value!r}",
            hint=f"give {name} as a fraction, e.g. 0.95 for 95%",
        )
    return float(value)


def _check_count(name: str, value: int, low: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise InputError(f"{name} must be a whole number >= {low}, got {value!r}", hint=hint)
    return int(value)


def _check_sample(sample_size: int, deviations: int, population: int | None) -> None:
    _check_count("sample size", sample_size, 1, "a sample has at least one item")
    _check_count("deviations", deviations, 0, "count the deviations found in the sample")
    if deviations > sample_size:
        raise InputError(
            f"deviations ({deviations}) exceed the sample size ({sample_size})",
            hint="an item is either a deviation or not; count each item once",
        )
    if population is not None:
        _check_count("population", population, 1, "give the number of items in the population")
        if population < sample_size:
            raise InputError(
                f"population ({population}) is smaller than the sample ({sample_size})",
                hint="sampling is without replacement: the sample cannot exceed the population",
            )


# --- sizing -----------------------------------------------------------------------------------


def _smallest(low: int, high: int, ok: Callable[[int], bool]) -> int:
    """Smallest n in [low, high] with ok(n), given ok is monotone (False ... True) and ok(high)."""
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _tolerable_count(tolerable_rate: float, population: int) -> int:
    # The rounding guard keeps 0.07 * 1300 = 91.00000000000001 from becoming 92.
    return math.ceil(round(tolerable_rate * population, 9))


def sample_size(
    confidence: float,
    tolerable_rate: float,
    expected_deviations: int = 0,
    population: int | None = None,
) -> int:
    """Smallest sample whose upper deviation limit stays below the tolerable rate when at most
    `expected_deviations` deviations are found (AICPA Tables A-1/A-2).

    Binomial without a population; hypergeometric with K = ceil(tolerable_rate * population)
    when one is given (and then n <= population). Raises InputError on invalid input, or when
    the population is too small for the tolerable rate to exceed the expected deviations.
    """
    confidence = _check_fraction("confidence", confidence)
    tolerable_rate = _check_fraction("tolerable rate", tolerable_rate)
    c = _check_count(
        "expected deviations", expected_deviations, 0, "the deviations you expect and will allow"
    )
    risk = 1.0 - confidence

    if population is None:

        def binomial_ok(n: int) -> bool:
            return bool(binom.cdf(c, n, tolerable_rate) <= risk)

        high = c + 1
        while not binomial_ok(high):
            high *= 2
            if high > _MAX_SAMPLE_SIZE:
                raise InputError(
                    f"no sample of up to {_MAX_SAMPLE_SIZE:,} items meets these requirements",
                    hint="raise the tolerable rate or lower the expected deviations",
                )
        return _smallest(c + 1, high, binomial_ok)

    _check_count("population", population, 1, "give the number of items in the population")
    k_tolerable = _tolerable_count(tolerable_rate, population)
    if k_tolerable <= c:
        raise InputError(
            f"a tolerable rate of {_percent_exact(tolerable_rate)} of {population:,} items is "
            f"{k_tolerable} deviation(s), no more than the {c} expected: no sample can separate "
            "them",
            hint="raise the tolerable rate or lower the expected deviations; "
            "otherwise test every item",
        )

    def hypergeometric_ok(n: int) -> bool:
        return bool(hypergeom.cdf(c, population, k_tolerable, n) <= risk)

    # At n = population the sample finds all k_tolerable > c deviations, so ok(population).
    return _smallest(c + 1, population, hypergeometric_ok)


# --- evaluation -------------------------------------------------------------------------------


def _cp_upper(deviations: float, sample_size: float, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound; accepts non-integer (effective) counts."""
    if deviations >= sample_size:
        return 1.0
    return float(beta_dist.ppf(confidence, deviations + 1, sample_size - deviations))


def hypergeometric_upper_count(
    population: int, sample_size: int, deviations: int, confidence: float
) -> int:
    """Largest number of deviations K in the population not rejected at `confidence`:
    the largest K with P(X <= deviations | N, K, n) > 1 - confidence.

    Example: N=2,000, n=93, 1 deviation, 95% -> 98. Raises InputError on invalid input.
    """
    confidence = _check_fraction("confidence", confidence)
    _check_sample(sample_size, deviations, population)
    risk = 1.0 - confidence
    # The sample shows `deviations` bad and `sample_size - deviations` good items, so K lies in
    # [deviations, population - (sample_size - deviations)]; P(X <= x | K) falls as K grows.
    low, high = deviations, population - (sample_size - deviations)

    def rejected(k: int) -> bool:
        return bool(hypergeom.cdf(deviations, population, k, sample_size) <= risk)

    if not rejected(high):
        return high
    return _smallest(low, high, rejected) - 1


def upper_limit(
    sample_size: int, deviations: int, confidence: float, population: int | None = None
) -> float:
    """One-sided upper deviation limit as a rate.

    Without a population: the exact Clopper-Pearson bound, Beta(confidence; x+1, n-x)
    (AICPA Tables A-3/A-4 are these rounded up to 0.1%). With a population:
    `hypergeometric_upper_count(...) / population`. Raises InputError on invalid input.
    """
    confidence = _check_fraction("confidence", confidence)
    _check_sample(sample_size, deviations, population)
    if population is None:
        return _cp_upper(deviations, sample_size, confidence)
    count = hypergeometric_upper_count(population, sample_size, deviations, confidence)
    return count / population


def two_sided_interval(sample_size: int, deviations: int, confidence: float) -> tuple[float, float]:
    """Central (equal-tailed) Clopper-Pearson interval for the deviation rate.

    Example: 3 of 200 at 95% -> (0.0031, 0.0432). Raises InputError on invalid input.
    """
    confidence = _check_fraction("confidence", confidence)
    _check_sample(sample_size, deviations, None)
    tail = (1.0 - confidence) / 2
    n, x = sample_size, deviations
    low = 0.0 if x == 0 else float(beta_dist.ppf(tail, x, n - x + 1))
    high = 1.0 if x == n else float(beta_dist.ppf(1 - tail, x + 1, n - x))
    return low, high


# --- stratified samples -----------------------------------------------------------------------


@dataclass(frozen=True)
class Stratum:
    """One stratum: its population N_h, sample size n_h and deviations found x_h."""

    name: str
    population: int
    sample_size: int
    deviations: int

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("a stratum has no name", hint="name every stratum")
        try:
            _check_sample(self.sample_size, self.deviations, self.population)
        except InputError as exc:
            raise InputError(f"stratum {self.name!r}: {exc.message}", hint=exc.hint) from None


@dataclass(frozen=True)
class StratifiedEstimate:
    """A stratified deviation-rate estimate, its one-sided upper bounds and their projection."""

    rate: float
    variance: float
    standard_error: float
    weights: dict[str, float]
    effective_n: float
    effective_deviations: float
    upper_korn_graubard: float
    upper_bonferroni: float
    confidence: float
    population: int
    projected_count: float
    projected_upper_korn_graubard: float
    projected_upper_bonferroni: float


def stratified_estimate(strata: Sequence[Stratum], confidence: float) -> StratifiedEstimate:
    """Combine strata: W_h = N_h/N, p = sum W_h p_h,
    V = sum W_h^2 (1 - n_h/N_h) p_h (1 - p_h) / (n_h - 1).

    Korn-Graubard: Clopper-Pearson on (x*, n*) with n* = p(1-p)/V, x* = n* p. When V is 0
    (no deviations anywhere, or only all-or-nothing strata) p(1-p)/V says nothing, so
    n* = 1 / sum W_h^2 (1 - n_h/N_h) / (n_h - 1): the value p(1-p)/V takes when every stratum
    has the same rate. Unlike sum n_h it keeps the loss from unequal weights, so a lightly
    sampled large stratum is not hidden behind a heavily sampled small one. If every stratum
    was tested in full there is no sampling risk: n* = N and the bounds equal the rate.

    Bonferroni: each stratum's Clopper-Pearson upper bound at 1 - (1 - confidence)/H
    (a stratum tested in full contributes its exact rate), combined as sum W_h U_h.

    Raises InputError on no strata, duplicate names, or a sampled stratum with fewer than two
    items (its variance cannot be estimated).
    """
    confidence = _check_fraction("confidence", confidence)
    if not strata:
        raise InputError("no strata given", hint="give at least one stratum")
    names = [s.name for s in strata]
    if len(set(names)) != len(names):
        raise InputError("stratum names repeat", hint="give each stratum a unique name")
    for s in strata:
        if s.sample_size < 2 and s.sample_size < s.population:
            raise InputError(
                f"stratum {s.name!r} has a sample of {s.sample_size}: its variance cannot be "
                "estimated",
                hint="draw at least two items per stratum, or merge the stratum with another",
            )

    total = sum(s.population for s in strata)
    weights = {s.name: s.population / total for s in strata}
    rate = sum(weights[s.name] * s.deviations / s.sample_size for s in strata)
    variance = 0.0
    equal_rate_factor = 0.0  # sum W_h^2 (1 - f_h) / (n_h - 1): V / p(1-p) under one common rate
    for s in strata:
        fpc = 1.0 - s.sample_size / s.population
        if fpc == 0.0:
            continue  # tested in full: no sampling variance
        p_h = s.deviations / s.sample_size
        w2 = weights[s.name] ** 2
        variance += w2 * fpc * p_h * (1.0 - p_h) / (s.sample_size - 1)
        equal_rate_factor += w2 * fpc / (s.sample_size - 1)

    census = equal_rate_factor == 0.0
    if census:
        effective_n = float(total)
    elif variance > 0.0:
        effective_n = rate * (1.0 - rate) / variance
    else:
        effective_n = 1.0 / equal_rate_factor
    effective_deviations = effective_n * rate
    upper_kg = rate if census else _cp_upper(effective_deviations, effective_n, confidence)

    per_stratum = 1.0 - (1.0 - confidence) / len(strata)
    upper_bonf = sum(
        weights[s.name]
        * (
            s.deviations / s.sample_size
            if s.sample_size == s.population
            else _cp_upper(s.deviations, s.sample_size, per_stratum)
        )
        for s in strata
    )
    upper_bonf = min(upper_bonf, 1.0)

    return StratifiedEstimate(
        rate=rate,
        variance=variance,
        standard_error=math.sqrt(variance),
        weights=weights,
        effective_n=effective_n,
        effective_deviations=effective_deviations,
        upper_korn_graubard=upper_kg,
        upper_bonferroni=upper_bonf,
        confidence=confidence,
        population=total,
        projected_count=total * rate,
        projected_upper_korn_graubard=total * upper_kg,
        projected_upper_bonferroni=total * upper_bonf,
    )


# --- how figures are stated ---------------------------------------------------------------------

# Every rate and limit the auditor states (summary sentence, tables, JSON, CSV) goes through
# these functions, so one figure reads the same everywhere: a percentage with STATED_DECIMALS
# decimals; upper limits (and the top of an interval) rounded up, the bottom of an interval
# rounded down (conservative both ways), estimates rounded to nearest. Plan parameters (the
# tolerable rate, the confidence) are shown exactly.
STATED_DECIMALS = 2


def _shown(value: float, decimals: int, *, up: bool = False, down: bool = False) -> float:
    """The percentage as displayed with `decimals` decimals, rounded up, down or to nearest."""
    scale = float(10**decimals)
    scaled = round(value * 100 * scale, 9)  # the guard keeps 4.9 from becoming 4.9000001
    if up:
        return math.ceil(scaled) / scale
    if down:
        return math.floor(scaled) / scale
    return round(scaled) / scale


def _percent(value: float, decimals: int, *, up: bool = False, down: bool = False) -> str:
    return f"{_shown(value, decimals, up=up, down=down):.{decimals}f}%"


def _percent_exact(value: float) -> str:
    """At least one decimal, more while needed to show the value exactly (up to four)."""
    for decimals in range(1, 5):
        if math.isclose(round(value * 100, decimals), value * 100, abs_tol=1e-9):
            break
    return _percent(value, decimals)


def stated_rate(value: float) -> str:
    """An estimated rate as stated: "1.10%" (nearest, STATED_DECIMALS decimals)."""
    return _percent(value, STATED_DECIMALS)


def stated_lower(value: float) -> str:
    """The bottom of an interval as stated: rounded down."""
    return _percent(value, STATED_DECIMALS, down=True)


def stated_limit(upper: float, tolerable_rate: float | None = None) -> str:
    """An upper limit as stated: rounded up to STATED_DECIMALS decimals, with more decimals
    (up to six) when rounding up would make a limit below the tolerable rate read as equal to
    it (4.9994% against 5%)."""
    decimals = STATED_DECIMALS
    if tolerable_rate is not None and upper < tolerable_rate:
        while decimals < 6 and math.isclose(
            _shown(upper, decimals, up=True), tolerable_rate * 100, abs_tol=1e-9
        ):
            decimals += 1
    return _percent(upper, decimals, up=True)


def stated_plan_rate(value: float) -> str:
    """A plan parameter (tolerable rate) as stated: exactly, "5.0%"."""
    return _percent_exact(value)


def stated_confidence(value: float) -> str:
    """A confidence level as stated: "95%", "97.5%"."""
    return _percent_exact(value).replace(".0%", "%")


def _check_rate(name: str, value: float) -> None:
    if not _is_real(value) or not 0 <= value <= 1:
        raise InputError(
            f"{name} must be a rate between 0 and 1, got {value!r}",
            hint="give rates as fractions, e.g. 0.049 for 4.9%",
        )


# --- the auditor's sentence -------------------------------------------------------------------


def _verdict(upper: float, tolerable_rate: float) -> str:
    if upper < tolerable_rate:
        return "is below"
    if upper == tolerable_rate:
        return "equals"
    return "is not below"


def conclusion(upper: float, tolerable_rate: float, confidence: float, rate: float) -> str:
    """The auditor's conclusion on a sample with nothing awaiting review, e.g. "The estimated
    deviation rate is 1.10%. The upper deviation limit of 4.90% at 95% confidence is below the
    tolerable rate of 5.0%: the control can be relied on."

    The control is relied on only if upper <= tolerable rate (AICPA). Figures are stated by
    `stated_rate` / `stated_limit`, as in the report's tables. The estimate comes first
    because ISA 530 reporting gives estimate, bound and confidence together.
    Raises InputError when a rate is outside [0, 1] or a fraction is outside (0, 1).
    """
    tolerable_rate = _check_fraction("tolerable rate", tolerable_rate)
    confidence = _check_fraction("confidence", confidence)
    _check_rate("upper limit", upper)
    _check_rate("rate", rate)
    relied = upper <= tolerable_rate
    outcome = (
        "the control can be relied on."
        if relied
        else "the control cannot be relied on at this confidence."
    )
    return (
        f"The estimated deviation rate is {stated_rate(rate)}. "
        f"The upper deviation limit of {stated_limit(upper, tolerable_rate)} at "
        f"{stated_confidence(confidence)} confidence {_verdict(upper, tolerable_rate)} "
        f"the tolerable rate of {stated_plan_rate(tolerable_rate)}: {outcome}"
    )


# --- while review is open: both ends and the tipping point ------------------------------------

NOT_CONCLUDED = "not_concluded"
RELIED = "relied"
NOT_RELIED = "not_relied"


@dataclass(frozen=True)
class Outcome:
    """The evaluation at one end of the open review."""

    deviations: int
    rate: float
    upper: float
    relied: bool


def _status(low: Outcome, high: Outcome) -> str:
    """relied, not_relied, or not_concluded (the ends of the review disagree)."""
    if not low.relied:
        return NOT_RELIED
    if high.relied:
        return RELIED
    return NOT_CONCLUDED


@dataclass(frozen=True)
class ReviewBounds:
    """What the open review can still change: the result if none of the `awaiting` items is
    confirmed, if all are, and the tipping point (the fewest confirmations that make the
    control unreliable: 0 if it already is, None if no outcome of the review can)."""

    sample_size: int
    awaiting: int
    confidence: float
    tolerable_rate: float
    none_confirmed: Outcome
    all_confirmed: Outcome
    tipping_point: int | None
    method: str

    @property
    def status(self) -> str:
        return _status(self.none_confirmed, self.all_confirmed)

    @property
    def concluded(self) -> bool:
        return self.status != NOT_CONCLUDED


def review_bounds(
    sample_size: int,
    deviations: int,
    awaiting: int,
    confidence: float,
    tolerable_rate: float,
    population: int | None = None,
) -> ReviewBounds:
    """Both ends of an open review and its tipping point, exact under the plan's method.

    `deviations` are the items that are deviations whatever the review finds (confirmed, not
    tested); `awaiting` the items that become deviations if a reviewer confirms one of their
    findings. The tipping point is the smallest k in [0, awaiting] whose upper limit
    `upper_limit(n, deviations + k)` (hypergeometric when a population is given) exceeds the
    tolerable rate: upper limits grow with the deviations, so a binary search finds it.
    Raises InputError on invalid input.
    """
    confidence = _check_fraction("confidence", confidence)
    tolerable_rate = _check_fraction("tolerable rate", tolerable_rate)
    _check_sample(sample_size, deviations, population)
    _check_count("awaiting", awaiting, 0, "count the sampled items that await review")
    if deviations + awaiting > sample_size:
        raise InputError(
            f"deviations ({deviations}) and items awaiting review ({awaiting}) exceed the "
            f"sample size ({sample_size})",
            hint="an item is a deviation, awaits review, or neither; count each item once",
        )

    def outcome(d: int) -> Outcome:
        upper = upper_limit(sample_size, d, confidence, population)
        return Outcome(d, d / sample_size, upper, upper <= tolerable_rate)

    low, high = outcome(deviations), outcome(deviations + awaiting)
    tipping: int | None
    if not low.relied:
        tipping = 0
    elif high.relied:
        tipping = None
    else:
        tipping = _smallest(
            1,
            awaiting,
            lambda k: (
                upper_limit(sample_size, deviations + k, confidence, population) > tolerable_rate
            ),
        )
    return ReviewBounds(
        sample_size=sample_size,
        awaiting=awaiting,
        confidence=confidence,
        tolerable_rate=tolerable_rate,
        none_confirmed=low,
        all_confirmed=high,
        tipping_point=tipping,
        method="binomial" if population is None else "hypergeometric",
    )


def _items(count: int, noun: str = "interaction") -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _end(outcome: Outcome, tolerable_rate: float, confidence: float) -> str:
    return (
        f"the deviation rate would be {stated_rate(outcome.rate)} and the upper deviation limit "
        f"{stated_limit(outcome.upper, tolerable_rate)} at {stated_confidence(confidence)} "
        f"confidence, which {_verdict(outcome.upper, tolerable_rate)} the tolerable rate of "
        f"{stated_plan_rate(tolerable_rate)}"
    )


def _waiting(awaiting: int) -> tuple[str, str]:
    return _items(awaiting, "sampled interaction"), ("awaits" if awaiting == 1 else "await")


def _settled(bounds: ReviewBounds | StratifiedReviewBounds, method: str) -> str | None:
    """The sentence when the review cannot change the verdict (nothing awaits, or both ends
    agree), `method` naming the bound after the figures; None while it can."""
    t, c = bounds.tolerable_rate, bounds.confidence
    low, high = bounds.none_confirmed, bounds.all_confirmed
    if bounds.awaiting == 0:
        return conclusion(low.upper, t, c, low.rate)
    waiting, verb = _waiting(bounds.awaiting)
    if bounds.status == NOT_RELIED:
        return (
            f"The control cannot be relied on at this confidence, whatever the review of the "
            f"{waiting} that still {verb} it finds: without any of them, "
            f"{_end(low, t, c)}{method}."
        )
    if bounds.status == RELIED:
        return (
            f"The control can be relied on whatever the review of the {waiting} that still "
            f"{verb} it finds: even if all of them are confirmed, {_end(high, t, c)}{method}."
        )
    return None


def review_conclusion(bounds: ReviewBounds) -> str:
    """The auditor's conclusion while sampled items await review.

    Not concluded while the review can still change the verdict: the sentence gives both ends
    and the tipping point, and states no verdict. When no outcome of the review can change it
    (the limit already exceeds the tolerable rate, or stays within it even if every awaiting
    item is confirmed), the verdict is stated with that reason. With nothing awaiting, this is
    `conclusion()`.
    """
    settled = _settled(bounds, "")
    if settled is not None:
        return settled
    t, c = bounds.tolerable_rate, bounds.confidence
    low, high = bounds.none_confirmed, bounds.all_confirmed
    waiting, verb = _waiting(bounds.awaiting)
    k = bounds.tipping_point
    return (
        f"Not yet concluded: {waiting} {verb} review. "
        f"If none of them is confirmed, {_end(low, t, c)}; "
        f"if all are confirmed, {_end(high, t, c)}. "
        f"The control cannot be relied on if {k:,} or more of the {waiting} awaiting review "
        f"are confirmed."
    )


# --- stratified samples while review is open --------------------------------------------------

# Above this many ways to spread the confirmations over the strata, the tipping point is found
# greedily instead of by trying every allocation.
_MAX_ALLOCATIONS = 20_000


@dataclass(frozen=True)
class StratifiedReviewBounds:
    """Both ends of an open review for a stratified sample (Korn-Graubard, the headline bound)
    and each stratum's own bounds and tipping point (at the plan's confidence, hypergeometric
    on the stratum's population). `tipping_point` is the fewest confirmations, placed in the
    strata where they weigh most, that take the combined limit above the tolerable rate;
    `tipping_method` says whether every allocation was tried ("exact") or one was built a
    confirmation at a time ("greedy", an upper bound on the fewest)."""

    awaiting: int
    confidence: float
    tolerable_rate: float
    none_confirmed: Outcome
    all_confirmed: Outcome
    tipping_point: int | None
    tipping_method: str
    strata: dict[str, ReviewBounds]

    @property
    def status(self) -> str:
        return _status(self.none_confirmed, self.all_confirmed)


def _kg_outcome(
    strata: Sequence[Stratum], extra: Sequence[int], confidence: float, tolerable_rate: float
) -> Outcome:
    est = stratified_estimate(
        [
            Stratum(s.name, s.population, s.sample_size, s.deviations + e)
            for s, e in zip(strata, extra, strict=True)
        ],
        confidence,
    )
    deviations = sum(s.deviations for s in strata) + sum(extra)
    upper = est.upper_korn_graubard
    return Outcome(deviations, est.rate, upper, upper <= tolerable_rate)


def stratified_review_bounds(
    strata: Sequence[Stratum],
    awaiting: dict[str, int],
    confidence: float,
    tolerable_rate: float,
) -> StratifiedReviewBounds:
    """Korn-Graubard limits with none and with all of each stratum's awaiting items confirmed,
    the per-stratum bounds, and the combined tipping point. Raises InputError on invalid input
    (see `stratified_estimate`, `review_bounds`)."""
    confidence = _check_fraction("confidence", confidence)
    tolerable_rate = _check_fraction("tolerable rate", tolerable_rate)
    caps = [int(awaiting.get(s.name, 0)) for s in strata]
    per_stratum = {
        s.name: review_bounds(
            s.sample_size, s.deviations, cap, confidence, tolerable_rate, population=s.population
        )
        for s, cap in zip(strata, caps, strict=True)
    }
    low = _kg_outcome(strata, [0] * len(strata), confidence, tolerable_rate)
    high = _kg_outcome(strata, caps, confidence, tolerable_rate)
    tipping: int | None = None
    method = "exact"
    if not low.relied:
        tipping = 0
    elif not high.relied:
        combos = math.prod(c + 1 for c in caps)
        if combos <= _MAX_ALLOCATIONS:
            tipping = _fewest_exact(strata, caps, confidence, tolerable_rate)
        else:
            method = "greedy"
            tipping = _fewest_greedy(strata, caps, confidence, tolerable_rate)
    return StratifiedReviewBounds(
        awaiting=sum(caps),
        confidence=confidence,
        tolerable_rate=tolerable_rate,
        none_confirmed=low,
        all_confirmed=high,
        tipping_point=tipping,
        tipping_method=method,
        strata=per_stratum,
    )


def _allocations(caps: Sequence[int]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for cap in caps:
        out = [a + (e,) for a in out for e in range(cap + 1)]
    return out


def _fewest_exact(
    strata: Sequence[Stratum], caps: Sequence[int], confidence: float, tolerable_rate: float
) -> int | None:
    best: int | None = None
    for extra in sorted(_allocations(caps), key=sum):
        if best is not None and sum(extra) >= best:
            break
        if not _kg_outcome(strata, extra, confidence, tolerable_rate).relied:
            best = sum(extra)
    return best


def _fewest_greedy(
    strata: Sequence[Stratum], caps: Sequence[int], confidence: float, tolerable_rate: float
) -> int | None:
    extra = [0] * len(strata)
    for k in range(1, sum(caps) + 1):
        candidates = []
        for i, cap in enumerate(caps):
            if extra[i] < cap:
                trial = extra[:i] + [extra[i] + 1] + extra[i + 1 :]
                candidates.append(
                    (_kg_outcome(strata, trial, confidence, tolerable_rate).upper, -i, trial)
                )
        upper, _, extra = max(candidates)
        if upper > tolerable_rate:
            return k
    return None


def stratified_review_conclusion(bounds: StratifiedReviewBounds) -> str:
    """`review_conclusion` for a stratified sample: the combined (Korn-Graubard) ends and the
    tipping point; the per-stratum figures are in the evaluation's table."""
    settled = _settled(bounds, " (stratified, Korn-Graubard)")
    if settled is not None:
        return settled
    t, c = bounds.tolerable_rate, bounds.confidence
    low, high = bounds.none_confirmed, bounds.all_confirmed
    waiting, verb = _waiting(bounds.awaiting)
    k = bounds.tipping_point
    exact = bounds.tipping_method == "exact"
    return (
        f"Not yet concluded: {waiting} {verb} review. "
        f"If none of them is confirmed, {_end(low, t, c)}; "
        f"if all are confirmed, {_end(high, t, c)} (stratified, Korn-Graubard). "
        f"Confirming {'as few as ' if exact else ''}{k:,} of the {waiting} awaiting review, "
        "in the strata where they weigh most, would make the control unreliable"
        + ("." if exact else " (found by a greedy search; fewer may suffice).")
    )
