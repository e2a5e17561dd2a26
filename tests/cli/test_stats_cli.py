"""`auditor stats`: plain JSON on stdout, strict fractions, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from scipy.stats import beta

from auditor.cli import main
from auditor.sample.stats import two_sided_interval, upper_limit

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    # The root callback loads settings: keep it away from any auditor.toml around the checkout.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDITOR_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(["stats", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


@pytest.mark.parametrize(
    ("args", "method", "expected"),
    [
        (["--confidence", "0.95", "--tolerable-rate", "0.05"], "binomial", 59),
        (
            ["--confidence", "0.95", "--tolerable-rate", "0.05", "--expected-deviations", "1"],
            "binomial",
            93,
        ),
        (
            ["--confidence", "0.90", "--tolerable-rate", "0.02", "--expected-deviations", "1"],
            "binomial",
            194,
        ),
        (
            ["--confidence", "0.95", "--tolerable-rate", "0.05", "--population", "1000"],
            "hypergeometric",
            57,
        ),
    ],
)
def test_sample_size_prints_json(run: Run, args: list[str], method: str, expected: int) -> None:
    code, out, err = run("sample-size", *args)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["sample_size"] == expected
    assert doc["method"] == method
    assert doc["confidence"] == float(args[1]) and doc["tolerable_rate"] == float(args[3])
    assert doc["upper_limit_at_expected_deviations"] < doc["tolerable_rate"]


def test_upper_limit_prints_json(run: Run) -> None:
    code, out, err = run(
        "upper-limit", "--sample-size", "200", "--deviations", "3", "--confidence", "0.95"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["method"] == "binomial"
    assert doc["sample_rate"] == pytest.approx(0.015)
    assert doc["upper_limit"] == pytest.approx(upper_limit(200, 3, 0.95))
    assert doc["allowance_for_sampling_risk"] == pytest.approx(doc["upper_limit"] - 0.015)
    assert doc["two_sided"] == pytest.approx(list(two_sided_interval(200, 3, 0.95)))
    assert [round(v * 100, 2) for v in doc["two_sided"]] == [0.31, 4.32]
    assert "conclusion" not in doc


@pytest.mark.parametrize(
    ("extra", "relied_on", "upper"),
    [
        (["--population", "2000", "--tolerable-rate", "0.05"], True, 0.049),
        (["--tolerable-rate", "0.04"], False, None),
    ],
)
def test_upper_limit_with_tolerable_rate_concludes(
    run: Run, extra: list[str], relied_on: bool, upper: float | None
) -> None:
    code, out, err = run(
        "upper-limit", "--sample-size", "93", "--deviations", "1", "--confidence", "0.95", *extra
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["relied_on"] is relied_on
    if upper is not None:
        assert doc["method"] == "hypergeometric"
        assert doc["upper_limit"] == pytest.approx(upper)
    expected = "can be relied on." if relied_on else "cannot be relied on at this confidence."
    assert doc["conclusion"].endswith(expected)


@pytest.mark.parametrize(
    ("args", "code", "mentions"),
    [
        # a percentage where a fraction is expected is a usage error, with the fix in the message
        ("sample-size --confidence 95 --tolerable-rate 0.05", 2, "0.95 for 95%"),
        ("sample-size --confidence 0.95 --tolerable-rate 5", 2, "--tolerable-rate"),
        ("sample-size --confidence 0.95", 2, "--tolerable-rate"),
        ("upper-limit --sample-size 0 --deviations 0 --confidence 0.95", 2, "--sample-size"),
        ("upper-limit --sample-size 10 --deviations 1 --confidence 1", 2, "--confidence"),
        # inconsistent combinations come back from the library as an error with a hint
        ("upper-limit --sample-size 10 --deviations 11 --confidence 0.95", 1, "exceed the sample"),
        (
            "upper-limit --sample-size 10 --deviations 1 --confidence 0.95 --population 5",
            1,
            "smaller than the sample",
        ),
        (
            "sample-size --confidence 0.95 --tolerable-rate 0.05 --expected-deviations 1 "
            "--population 10",
            1,
            "no sample can separate",
        ),
    ],
)
def test_bad_input_exit_codes(run: Run, args: str, code: int, mentions: str) -> None:
    got, out, err = run(*args.split())
    assert got == code
    assert out == ""
    assert mentions in " ".join(err.split())
    if code == 1:
        assert err.startswith("error: ") and "\nhint: " in err
    assert "Traceback" not in err


def test_help_says_fractions(run: Run) -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "fractions: 0.95, not 95" in " ".join(out.split())


def _tipping_by_scipy(n: int, d: int, awaiting: int, confidence: float, tolerable: float) -> int:
    """The fewest confirmations k whose Clopper-Pearson limit exceeds the tolerable rate,
    counted directly from scipy's beta quantiles (an independent linear scan)."""
    for k in range(awaiting + 1):
        x = d + k
        limit = 1.0 if x >= n else float(beta.ppf(confidence, x + 1, n - x))
        if limit > tolerable:
            return k
    return -1


@pytest.mark.parametrize(
    ("n", "d", "awaiting"),
    [(200, 0, 59), (200, 2, 59), (93, 0, 20), (59, 0, 3), (300, 5, 100)],
)
def test_upper_limit_with_awaiting_gives_the_tipping_point(
    run: Run, n: int, d: int, awaiting: int
) -> None:
    code, out, _ = run(
        "upper-limit",
        f"--sample-size={n}",
        f"--deviations={d}",
        f"--awaiting={awaiting}",
        "--confidence=0.95",
        "--tolerable-rate=0.05",
    )
    assert code == 0
    payload = json.loads(out)
    expected = _tipping_by_scipy(n, d, awaiting, 0.95, 0.05)
    low = float(beta.ppf(0.95, d + 1, n - d))
    high_x = d + awaiting
    high = 1.0 if high_x >= n else float(beta.ppf(0.95, high_x + 1, n - high_x))
    assert payload["if_none_confirmed"]["upper_limit"] == pytest.approx(low)
    assert payload["if_all_confirmed"]["upper_limit"] == pytest.approx(high)
    if expected == -1:
        assert payload["tipping_point"] is None and payload["status"] == "relied"
    elif expected == 0:
        assert payload["tipping_point"] == 0 and payload["status"] == "not_relied"
    else:
        assert payload["tipping_point"] == expected
        assert payload["status"] == "not_concluded"
        assert payload["conclusion"].startswith("Not yet concluded")
        assert (
            f"if {expected} or more of the {awaiting} sampled interactions"
            in (payload["conclusion"])
        )
        assert "can be relied on" not in payload["conclusion"]


def test_the_demo_case_tips_at_five(run: Run) -> None:
    code, out, _ = run(
        "upper-limit",
        "--sample-size=200",
        "--deviations=0",
        "--awaiting=59",
        "--confidence=0.95",
        "--tolerable-rate=0.05",
    )
    payload = json.loads(out)
    assert code == 0 and payload["tipping_point"] == 5
    # 4 confirmed: still within 5%; 5: beyond it.
    assert float(beta.ppf(0.95, 5, 196)) <= 0.05 < float(beta.ppf(0.95, 6, 195))


def test_awaiting_needs_a_tolerable_rate(run: Run) -> None:
    code, _, err = run(
        "upper-limit", "--sample-size=200", "--deviations=0", "--awaiting=5", "--confidence=0.95"
    )
    assert code == 2 and "--tolerable-rate" in err


def test_awaiting_beyond_the_sample_is_an_error(run: Run) -> None:
    code, _, err = run(
        "upper-limit",
        "--sample-size=10",
        "--deviations=5",
        "--awaiting=6",
        "--confidence=0.95",
        "--tolerable-rate=0.05",
    )
    assert code == 1 and "exceed the sample size" in err
