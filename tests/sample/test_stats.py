"""Attribute-sampling statistics against the published tables and the reference's examples.

Sources: AICPA Audit Sampling (2017) Appendix A as transcribed by jfa; EZ-Quant's
hypergeometric sample sizes (as benchmarked by jfa); the worked examples in
/work/shared/reference/regulation-and-sampling.md, Part A.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.stats import beta, binom, hypergeom

from auditor.errors import InputError
from auditor.sample.stats import (
    StratifiedEstimate,
    Stratum,
    conclusion,
    hypergeometric_upper_count,
    review_bounds,
    review_conclusion,
    sample_size,
    stated_limit,
    stratified_estimate,
    stratified_review_bounds,
    stratified_review_conclusion,
    two_sided_interval,
    upper_limit,
)

# --- AICPA Tables A-1 (95%) and A-2 (90%): sample size [deviations allowed] -----------------

# tolerable rate (%): (95% / 0 allowed, 95% / 1 allowed, 90% / 0 allowed, 90% / 1 allowed)
TABLE_A1_A2 = {
    2: (149, 236, 114, 194),
    3: (99, 157, 76, 129),
    4: (74, 117, 57, 96),
    5: (59, 93, 45, 77),
    6: (49, 78, 38, 64),
    7: (42, 66, 32, 55),
    8: (36, 58, 28, 48),
    9: (32, 51, 25, 42),
    10: (29, 46, 22, 38),
}
SIZE_CASES = [
    pytest.param(confidence, tdr / 100, allowed, sizes[column], id=f"{tdr}%-{confidence}-{allowed}")
    for tdr, sizes in TABLE_A1_A2.items()
    for column, (confidence, allowed) in enumerate([(0.95, 0), (0.95, 1), (0.90, 0), (0.90, 1)])
]


@pytest.mark.parametrize(("confidence", "tolerable", "allowed", "expected"), SIZE_CASES)
def test_sample_size_reproduces_aicpa_tables_a1_a2(
    confidence: float, tolerable: float, allowed: int, expected: int
) -> None:
    assert sample_size(confidence, tolerable, allowed) == expected


def test_sample_size_zero_deviations_is_the_closed_form() -> None:
    # n = ceil(ln beta / ln(1 - p_T)): ln 0.05 / ln 0.95 = 58.4 -> 59
    assert sample_size(0.95, 0.05) == math.ceil(math.log(0.05) / math.log(0.95)) == 59


# --- Hypergeometric sample sizes for a finite population (EZ-Quant 2.0.6, 0 deviations) -----

# population: {confidence: sizes at tolerable 8%, 6%, 4%, 2%}
EZQUANT = {
    500: {0.90: (27, 36, 54, 102), 0.95: (35, 47, 69, 129), 0.99: (53, 70, 101, 183)},
    1000: {0.90: (28, 37, 55, 108), 0.95: (36, 48, 71, 138), 0.99: (54, 72, 107, 204)},
    5000: {0.90: (28, 38, 57, 113), 0.95: (36, 49, 73, 147), 0.99: (55, 74, 112, 223)},
}
HYPER_SIZE_CASES = [
    pytest.param(n_pop, conf, tdr, size, id=f"N{n_pop}-{conf}-{tdr}")
    for n_pop, by_conf in EZQUANT.items()
    for conf, sizes in by_conf.items()
    for tdr, size in zip((0.08, 0.06, 0.04, 0.02), sizes, strict=True)
] + [
    # jfa's own checks: N = 1,000 at 95%
    pytest.param(1000, 0.95, 0.01, 258, id="jfa-1%"),
    pytest.param(1000, 0.95, 0.05, 57, id="jfa-5%"),
]


@pytest.mark.parametrize(("population", "confidence", "tolerable", "expected"), HYPER_SIZE_CASES)
def test_sample_size_with_population_reproduces_ezquant(
    population: int, confidence: float, tolerable: float, expected: int
) -> None:
    assert sample_size(confidence, tolerable, 0, population=population) == expected


@pytest.mark.parametrize(
    ("population", "tolerable", "tolerable_count"),
    [
        (990, 0.05, 50),  # 49.5 deviations is tolerable: 50 is the first count at or above 5%
        (1000, 0.05, 50),  # whole: exactly 50
        (1300, 0.07, 91),  # 0.07 * 1300 is 91.00000000000001 in floating point: still 91
    ],
)
def test_tolerable_count_is_rounded_up(
    population: int, tolerable: float, tolerable_count: int
) -> None:
    n = sample_size(0.95, tolerable, 1, population=population)
    risk = 0.05
    assert hypergeom.cdf(1, population, tolerable_count, n) <= risk
    assert hypergeom.cdf(1, population, tolerable_count, n - 1) > risk
    # and it is the size whose upper limit, if the expected deviation is found, is below TDR
    assert (
        upper_limit(n, 1, 0.95, population) < tolerable <= upper_limit(n - 1, 1, 0.95, population)
    )


def test_sample_size_can_be_the_whole_population() -> None:
    # 3 of 20 is 15%: with 2 deviations allowed only a near-census separates 2 from 3
    n = sample_size(0.95, 0.15, 2, population=20)
    assert n <= 20
    assert hypergeom.cdf(2, 20, 3, n) <= 0.05 < hypergeom.cdf(2, 20, 3, n - 1)


# --- AICPA Tables A-3 (95%) and A-4 (90%): upper deviation limit, rounded up to 0.1% --------

TABLE_A3_A4 = {
    50: ((5.9, 9.2, 12.1), (4.6, 7.6, 10.3)),
    60: ((4.9, 7.7, 10.2), (3.8, 6.4, 8.7)),
    100: ((3.0, 4.7, 6.2), (2.3, 3.9, 5.3)),
    200: ((1.5, 2.4, 3.2), (1.2, 2.0, 2.7)),
}
LIMIT_CASES = [
    pytest.param(n, conf, x, pct[x], id=f"n{n}-{conf}-{x}dev")
    for n, (at95, at90) in TABLE_A3_A4.items()
    for conf, pct in ((0.95, at95), (0.90, at90))
    for x in range(3)
]


def _rounded_up_to_tenth_percent(rate: float) -> float:
    return math.ceil(round(rate * 1000, 9)) / 10


@pytest.mark.parametrize(("n", "confidence", "deviations", "expected_pct"), LIMIT_CASES)
def test_upper_limit_reproduces_aicpa_tables_a3_a4(
    n: int, confidence: float, deviations: int, expected_pct: float
) -> None:
    assert _rounded_up_to_tenth_percent(upper_limit(n, deviations, confidence)) == expected_pct


@pytest.mark.parametrize(
    ("n", "deviations", "expected_pct", "decimals"),
    [(59, 0, 4.95, 2), (93, 1, 4.9994, 4)],
)
def test_upper_limit_at_the_table_sizes_is_just_under_tdr(
    n: int, deviations: int, expected_pct: float, decimals: int
) -> None:
    upper = upper_limit(n, deviations, 0.95)
    assert round(upper * 100, decimals) == expected_pct
    assert upper < 0.05


@pytest.mark.parametrize(("n", "x"), [(1, 0), (1, 1), (10, 10), (59, 0), (200, 3)])
def test_upper_limit_edges_and_zero_deviation_formula(n: int, x: int) -> None:
    upper = upper_limit(n, x, 0.95)
    if x == n:
        assert upper == 1.0
    elif x == 0:
        assert upper == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    # the defining equation P(X <= x | n, p_U) = beta holds
    if x < n:
        assert binom.cdf(x, n, upper) == pytest.approx(0.05, rel=1e-9)


def test_two_sided_interval_example() -> None:
    low, high = two_sided_interval(200, 3, 0.95)
    assert (round(low * 100, 2), round(high * 100, 2)) == (0.31, 4.32)


@pytest.mark.parametrize(("n", "x", "expected"), [(10, 0, 0.0), (10, 10, 1.0)])
def test_two_sided_interval_ends(n: int, x: int, expected: float) -> None:
    low, high = two_sided_interval(n, x, 0.95)
    assert (low if x == 0 else high) == expected
    assert 0.0 <= low < high <= 1.0


def test_hypergeometric_example() -> None:
    assert hypergeometric_upper_count(2000, 93, 1, 0.95) == 98
    assert upper_limit(93, 1, 0.95, population=2000) == pytest.approx(0.049)
    assert _rounded_up_to_tenth_percent(upper_limit(93, 1, 0.95)) == 5.0
    # 98 is the largest count not rejected: 99 is rejected at 5%
    assert hypergeom.cdf(1, 2000, 98, 93) > 0.05 >= hypergeom.cdf(1, 2000, 99, 93)


@pytest.mark.parametrize(
    ("population", "n", "x", "expected"),
    [
        (100, 100, 3, 3),  # a census: the count is known
        (50, 10, 10, 50),  # every item deviated: nothing rules out all of them
        (50, 10, 0, 11),  # C(39,10)/C(50,10) = 0.062 > 5% >= C(38,10)/C(50,10) = 0.046
    ],
)
def test_hypergeometric_upper_count_edges(population: int, n: int, x: int, expected: int) -> None:
    count = hypergeometric_upper_count(population, n, x, 0.95)
    assert count == expected
    assert x <= count <= population - (n - x)


@pytest.mark.parametrize(("population", "n"), [(50, 10), (500, 45), (2000, 59), (120, 119)])
def test_hypergeometric_zero_deviation_count_by_exact_arithmetic(population: int, n: int) -> None:
    # With no deviations P(X = 0 | K) = C(N-K, n) / C(N, n), computed here without scipy.
    def p_none(k: int) -> Fraction:
        return Fraction(math.comb(population - k, n), math.comb(population, n))

    expected = max(k for k in range(population - n + 1) if p_none(k) > Fraction(1, 20))
    assert hypergeometric_upper_count(population, n, 0, 0.95) == expected


@pytest.mark.parametrize(("n", "x"), [(93, 1), (59, 0), (200, 3)])
def test_hypergeometric_limit_approaches_binomial_for_large_populations(n: int, x: int) -> None:
    huge = 10_000_000
    assert upper_limit(n, x, 0.95, population=huge) == pytest.approx(
        upper_limit(n, x, 0.95), abs=2e-6
    )


# --- properties ------------------------------------------------------------------------------

confidences = st.sampled_from([0.80, 0.90, 0.95, 0.975, 0.99])


@given(n=st.integers(1, 2000), data=st.data(), confidence=confidences)
def test_upper_limit_falls_with_n_and_rises_with_deviations(
    n: int, data: st.DataObject, confidence: float
) -> None:
    x = data.draw(st.integers(0, n))
    upper = upper_limit(n, x, confidence)
    assert x / n <= upper <= 1.0
    assert upper_limit(n + 1, x, confidence) < upper
    if x < n:
        assert upper_limit(n, x + 1, confidence) > upper
    # the one-sided limit sits inside the wider two-sided interval's upper end
    low, high = two_sided_interval(n, x, confidence)
    assert low <= x / n <= high
    assert upper <= high


@given(n=st.integers(1, 300), extra=st.integers(1, 3000), data=st.data(), confidence=confidences)
def test_hypergeometric_limit_is_monotone(
    n: int, extra: int, data: st.DataObject, confidence: float
) -> None:
    population = n + extra
    x = data.draw(st.integers(0, n))
    count = hypergeometric_upper_count(population, n, x, confidence)
    risk = 1 - confidence
    assert hypergeom.cdf(x, population, count, n) > risk
    if count < population - (n - x):
        assert hypergeom.cdf(x, population, count + 1, n) <= risk
    assert hypergeometric_upper_count(population, n + 1, x, confidence) <= count
    if x < n:
        assert hypergeometric_upper_count(population, n, x + 1, confidence) >= count


@given(
    confidence=confidences,
    tolerable_pct=st.integers(1, 30),
    allowed=st.integers(0, 5),
)
def test_sample_size_is_the_smallest_that_achieves_the_risk(
    confidence: float, tolerable_pct: int, allowed: int
) -> None:
    p = tolerable_pct / 100
    n = sample_size(confidence, p, allowed)
    risk = 1 - confidence
    assert binom.cdf(allowed, n, p) <= risk
    assert binom.cdf(allowed, n - 1, p) > risk
    # the same statement through the bound: finding the allowed deviations keeps UDL below TDR
    assert upper_limit(n, allowed, confidence) <= p < upper_limit(n - 1, allowed, confidence)


@given(
    confidence=confidences,
    tolerable_pct=st.integers(1, 30),
    allowed=st.integers(0, 5),
    population=st.integers(20, 5000),
)
def test_hypergeometric_sample_size_is_the_smallest_that_achieves_the_risk(
    confidence: float, tolerable_pct: int, allowed: int, population: int
) -> None:
    p = tolerable_pct / 100
    k = math.ceil(round(p * population, 9))
    assume(k > allowed)
    n = sample_size(confidence, p, allowed, population=population)
    risk = 1 - confidence
    assert allowed < n <= population
    assert hypergeom.cdf(allowed, population, k, n) <= risk
    assert hypergeom.cdf(allowed, population, k, n - 1) > risk
    assert n <= sample_size(confidence, p, allowed)  # never more than the binomial asks
    assert upper_limit(n, allowed, confidence, population) < p


# --- stratified estimate: the reference's worked example ------------------------------------

EXAMPLE = [
    Stratum("Markets", 20_000, 120, 3),
    Stratum("Ops", 60_000, 120, 1),
    Stratum("Technology", 40_000, 120, 0),
]


def test_stratified_worked_example() -> None:
    est = stratified_estimate(EXAMPLE, 0.95)
    assert isinstance(est, StratifiedEstimate)
    assert est.population == 120_000
    assert est.weights == pytest.approx({"Markets": 1 / 6, "Ops": 1 / 2, "Technology": 1 / 3})
    assert round(est.rate * 100, 2) == 0.83
    assert round(est.standard_error * 100, 2) == 0.48
    assert est.variance == pytest.approx(est.standard_error**2)
    assert round(est.effective_n) == 360
    assert est.effective_deviations == pytest.approx(est.effective_n * est.rate)
    assert round(est.upper_korn_graubard * 100, 2) == 2.14
    assert round(est.upper_bonferroni * 100, 2) == 4.85
    assert est.projected_count == pytest.approx(1000)
    assert round(est.projected_upper_korn_graubard, -1) == 2570
    assert round(est.projected_upper_bonferroni, -1) == 5820
    assert est.confidence == 0.95


def test_stratified_formulas_by_hand() -> None:
    est = stratified_estimate(EXAMPLE, 0.90)
    w = {"Markets": 1 / 6, "Ops": 1 / 2, "Technology": 1 / 3}
    p = {s.name: s.deviations / s.sample_size for s in EXAMPLE}
    v = sum(
        w[s.name] ** 2
        * (1 - s.sample_size / s.population)
        * p[s.name]
        * (1 - p[s.name])
        / (s.sample_size - 1)
        for s in EXAMPLE
    )
    rate = sum(w[n] * p[n] for n in w)
    n_star = rate * (1 - rate) / v
    assert est.variance == pytest.approx(v, rel=1e-12)
    assert est.upper_korn_graubard == pytest.approx(
        beta.ppf(0.90, n_star * rate + 1, n_star * (1 - rate)), rel=1e-12
    )
    per = 1 - 0.10 / 3
    bonf = sum(
        w[s.name] * beta.ppf(per, s.deviations + 1, s.sample_size - s.deviations) for s in EXAMPLE
    )
    assert est.upper_bonferroni == pytest.approx(bonf, rel=1e-12)


def test_stratified_without_deviations_uses_the_equal_rate_effective_n() -> None:
    strata = [Stratum(s.name, s.population, s.sample_size, 0) for s in EXAMPLE]
    est = stratified_estimate(strata, 0.95)
    factor = sum(
        (s.population / 120_000) ** 2 * (1 - s.sample_size / s.population) / (s.sample_size - 1)
        for s in strata
    )
    assert est.rate == 0.0 and est.variance == 0.0
    assert est.effective_n == pytest.approx(1 / factor)
    # unequal weights cost information: fewer than the 360 items drawn
    assert est.effective_n < 360
    assert est.upper_korn_graubard == pytest.approx(1 - 0.05 ** (1 / est.effective_n))
    assert 0 < est.upper_korn_graubard < est.upper_bonferroni


def test_stratified_census_has_no_sampling_risk() -> None:
    est = stratified_estimate([Stratum("a", 10, 10, 1), Stratum("b", 5, 5, 0)], 0.95)
    assert est.rate == pytest.approx(1 / 15)
    assert est.effective_n == 15
    assert est.upper_korn_graubard == est.upper_bonferroni == est.rate
    assert est.projected_upper_bonferroni == pytest.approx(1)


def test_single_stratum_bonferroni_is_plain_clopper_pearson() -> None:
    est = stratified_estimate([Stratum("all", 1_000_000, 93, 1)], 0.95)
    assert est.upper_bonferroni == pytest.approx(upper_limit(93, 1, 0.95))
    assert est.rate <= est.upper_korn_graubard


# --- the auditor's sentence ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upper", "tolerable", "confidence", "rate", "expected"),
    [
        (
            0.049,
            0.05,
            0.95,
            1 / 93,
            "The estimated deviation rate is 1.08%. The upper deviation limit of 4.90% at 95% "
            "confidence is below the tolerable rate of 5.0%: the control can be relied on.",
        ),
        (
            0.049993978,
            0.05,
            0.95,
            1 / 93,
            "The estimated deviation rate is 1.08%. The upper deviation limit of 4.9994% at 95% "
            "confidence is below the tolerable rate of 5.0%: the control can be relied on.",
        ),
        (
            0.10123589,
            0.05,
            0.95,
            2 / 60,
            "The estimated deviation rate is 3.33%. The upper deviation limit of 10.13% at 95% "
            "confidence is not below the tolerable rate of 5.0%: the control cannot be relied "
            "on at this confidence.",
        ),
        (
            0.05,
            0.05,
            0.90,
            0.0,
            "The estimated deviation rate is 0.00%. The upper deviation limit of 5.00% at 90% "
            "confidence equals the tolerable rate of 5.0%: the control can be relied on.",
        ),
        (
            0.0214071,
            0.025,
            0.975,
            0.008333,
            "The estimated deviation rate is 0.83%. The upper deviation limit of 2.15% at 97.5% "
            "confidence is below the tolerable rate of 2.5%: the control can be relied on.",
        ),
    ],
    ids=["below", "just-below-needs-decimals", "above", "equal", "rounded-up"],
)
def test_conclusion_sentence(
    upper: float, tolerable: float, confidence: float, rate: float, expected: str
) -> None:
    assert conclusion(upper, tolerable, confidence, rate) == expected


# --- input validation ------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param(sample_size, (95, 0.05), "confidence", id="confidence-as-percent"),
    pytest.param(sample_size, (1.0, 0.05), "confidence", id="confidence-1"),
    pytest.param(sample_size, (0.0, 0.05), "confidence", id="confidence-0"),
    pytest.param(sample_size, (math.nan, 0.05), "confidence", id="confidence-nan"),
    pytest.param(sample_size, (True, 0.05), "confidence", id="confidence-bool"),
    pytest.param(sample_size, (0.95, 5), "tolerable rate", id="tdr-as-percent"),
    pytest.param(sample_size, (0.95, 0.0), "tolerable rate", id="tdr-0"),
    pytest.param(sample_size, (0.95, 0.05, -1), "expected deviations", id="expected-negative"),
    pytest.param(sample_size, (0.95, 0.05, 1.5), "expected deviations", id="expected-fraction"),
    pytest.param(sample_size, (0.95, 0.05, 0, 0), "population", id="population-0"),
    pytest.param(sample_size, (0.95, 0.05, 1, 10), "no sample can separate", id="k-not-above-c"),
    pytest.param(upper_limit, (0, 0, 0.95), "sample size", id="n-0"),
    pytest.param(upper_limit, (10, 11, 0.95), "exceed", id="deviations-above-n"),
    pytest.param(upper_limit, (10, -1, 0.95), "deviations", id="deviations-negative"),
    pytest.param(upper_limit, (10, 1, 1.5), "confidence", id="ul-confidence"),
    pytest.param(upper_limit, (10, 1, 0.95, 5), "smaller than the sample", id="population-lt-n"),
    pytest.param(two_sided_interval, (10, 11, 0.95), "exceed", id="two-sided-deviations"),
    pytest.param(two_sided_interval, (10, 1, 95), "confidence", id="two-sided-confidence"),
    pytest.param(hypergeometric_upper_count, (5, 10, 0, 0.95), "smaller", id="hyper-population"),
    pytest.param(Stratum, ("", 10, 5, 0), "no name", id="stratum-no-name"),
    pytest.param(Stratum, ("a", 10, 20, 0), "smaller than the sample", id="stratum-n-gt-N"),
    pytest.param(Stratum, ("a", 10, 5, 6), "exceed", id="stratum-deviations"),
    pytest.param(stratified_estimate, ([], 0.95), "no strata", id="no-strata"),
    pytest.param(
        stratified_estimate,
        ([Stratum("a", 10, 5, 0), Stratum("a", 10, 5, 0)], 0.95),
        "repeat",
        id="duplicate-strata",
    ),
    pytest.param(
        stratified_estimate, ([Stratum("a", 10, 1, 0)], 0.95), "variance", id="one-item-stratum"
    ),
    pytest.param(stratified_estimate, (EXAMPLE, 95), "confidence", id="stratified-confidence"),
    pytest.param(conclusion, (1.2, 0.05, 0.95, 0.01), "upper limit", id="conclusion-upper"),
    pytest.param(conclusion, (0.04, 5, 0.95, 0.01), "tolerable rate", id="conclusion-tdr"),
    pytest.param(conclusion, (0.04, 0.05, 0.95, -0.1), "rate", id="conclusion-rate"),
]


@pytest.mark.parametrize(("func", "args", "mentions"), BAD_INPUTS)
def test_invalid_input_raises_input_error_with_hint(func, args, mentions: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        func(*args)
    assert mentions in info.value.message
    assert info.value.hint


# --- while review is open: both ends and the tipping point -----------------------------------


def _scan_tipping(n: int, d: int, a: int, conf: float, tol: float, pop: int | None) -> int | None:
    """Independent linear scan: the fewest k whose exact limit exceeds the tolerable rate."""
    for k in range(a + 1):
        x = d + k
        if pop is None:
            limit = 1.0 if x >= n else float(beta.ppf(conf, x + 1, n - x))
        else:
            # Largest K not rejected: P(X <= x | N, K, n) > 1 - conf, by a plain scan.
            k_max = x
            for big_k in range(x, pop - (n - x) + 1):
                if hypergeom.cdf(x, pop, big_k, n) > 1 - conf:
                    k_max = big_k
            limit = k_max / pop
        if limit > tol:
            return k
    return None


@pytest.mark.parametrize(
    ("n", "d", "a", "pop"),
    [
        (200, 0, 59, None),
        (200, 0, 59, 3000),
        (60, 1, 10, 400),
        (93, 1, 0, None),
        (59, 3, 5, None),  # already unreliable: tipping point 0
        (150, 0, 1, None),  # one confirmation cannot tip: none
    ],
)
def test_review_bounds_match_an_independent_scan(n: int, d: int, a: int, pop: int | None) -> None:
    bounds = review_bounds(n, d, a, 0.95, 0.05, population=pop)
    assert bounds.tipping_point == _scan_tipping(n, d, a, 0.95, 0.05, pop)
    assert bounds.none_confirmed.upper == pytest.approx(upper_limit(n, d, 0.95, pop))
    assert bounds.all_confirmed.upper == pytest.approx(upper_limit(n, d + a, 0.95, pop))
    expected_status = (
        "not_relied"
        if bounds.tipping_point == 0
        else "relied"
        if bounds.tipping_point is None
        else "not_concluded"
    )
    assert bounds.status == expected_status


@given(
    n=st.integers(1, 400),
    d=st.integers(0, 400),
    a=st.integers(0, 400),
    tol=st.sampled_from([0.02, 0.05, 0.1]),
)
def test_tipping_point_is_where_the_verdict_turns(n: int, d: int, a: int, tol: float) -> None:
    assume(d + a <= n)
    bounds = review_bounds(n, d, a, 0.95, tol)
    k = bounds.tipping_point
    if k is None:
        assert upper_limit(n, d + a, 0.95) <= tol
    else:
        assert upper_limit(n, d + k, 0.95) > tol
        assert k == 0 or upper_limit(n, d + k - 1, 0.95) <= tol


@pytest.mark.parametrize(
    ("d", "a", "starts", "absent"),
    [
        (0, 59, "Not yet concluded: 59 sampled interactions await review.", "can be relied on"),
        (20, 5, "The control cannot be relied on at this confidence, whatever", None),
        (0, 0, "The estimated deviation rate is 0.00%.", "Not yet"),
    ],
)
def test_review_conclusion_never_states_an_open_verdict(
    d: int, a: int, starts: str, absent: str | None
) -> None:
    text = review_conclusion(review_bounds(200, d, a, 0.95, 0.05))
    assert text.startswith(starts)
    if absent:
        assert absent not in text


def test_review_conclusion_relied_whatever_the_review() -> None:
    bounds = review_bounds(2000, 0, 1, 0.95, 0.05)
    assert bounds.status == "relied"
    assert review_conclusion(bounds).startswith(
        "The control can be relied on whatever the review of the 1 sampled interaction"
    )


@pytest.mark.parametrize(
    ("upper", "tolerable", "stated"),
    [
        (0.014867, None, "1.49%"),
        (0.0144, None, "1.44%"),  # exact at two decimals: not pushed up
        (0.049993978, 0.05, "4.9994%"),  # more decimals rather than "5.00%" below 5%
        (0.05, 0.05, "5.00%"),
        (0.35260361, 0.05, "35.27%"),
    ],
)
def test_stated_limit_rounds_up(upper: float, tolerable: float | None, stated: str) -> None:
    assert stated_limit(upper, tolerable) == stated


def test_stratified_review_bounds_end_to_end() -> None:
    strata = [Stratum("a", 1000, 60, 0), Stratum("b", 200, 40, 1)]
    bounds = stratified_review_bounds(strata, {"a": 10, "b": 5}, 0.95, 0.05)
    low = stratified_estimate(strata, 0.95).upper_korn_graubard
    high = stratified_estimate(
        [Stratum("a", 1000, 60, 10), Stratum("b", 200, 40, 6)], 0.95
    ).upper_korn_graubard
    assert bounds.none_confirmed.upper == pytest.approx(low)
    assert bounds.all_confirmed.upper == pytest.approx(high)
    assert bounds.tipping_method == "exact"
    assert set(bounds.strata) == {"a", "b"}
    assert bounds.strata["a"].awaiting == 10
    assert bounds.status == "not_concluded"
    if bounds.status == "not_concluded":
        k = bounds.tipping_point
        assert k is not None and k >= 1

        # No allocation of k - 1 confirmations tips; some allocation of k does.
        def tips(ea: int, eb: int) -> bool:
            est = stratified_estimate(
                [Stratum("a", 1000, 60, ea), Stratum("b", 200, 40, 1 + eb)], 0.95
            )
            return est.upper_korn_graubard > 0.05

        combos = [(ea, eb) for ea in range(11) for eb in range(6)]
        assert not any(tips(ea, eb) for ea, eb in combos if ea + eb < k)
        assert any(tips(ea, eb) for ea, eb in combos if ea + eb == k)
        text = stratified_review_conclusion(bounds)
        assert text.startswith("Not yet concluded") and f"as few as {k} " in text
