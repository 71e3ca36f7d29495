"""bot.report.estimates against published worked examples, and its properties.

Where the published numbers come from (the papers themselves were not readable here, so each
value was taken from an independent package's test suite that checks it against the paper,
and, where it could be, recomputed by hand in a comment below):

- Newcombe RG (1998a), Stat Med 17:857-872, Table I, method 3 (Wilson): 81/263, 15/148, 0/20,
  1/29. Checked in the propint R package (github.com/m-Py/propint,
  tests/testthat/test_Single_Proportion_CI.R: 81/263, 15/148) and the ratesci R package
  (github.com/petelaud/ratesci, tests/testthat/test3.R, "Single proportion, Newcombe
  examples": 15/148, 0/20, 1/29).
- Newcombe RG (1998b), Stat Med 17:873-890, Table II, method 10: 56/70 - 48/80 and
  9/10 - 3/10 (propint, tests/testthat/test_Two_Independent_Props_CI.R and its README), and
  5/56 - 0/29, "Newcombe RD example (d)" (ratesci, tests/testthat/test3.R).
- Newcombe RG (1998c), Stat Med 17:2635-2650, method 10 (paired): (36, 12, 2, 0),
  (18, 12, 2, 18), (53, 0, 0, 1) and (0, 30, 0, 0) in Newcombe's (e, f, g, h) (propint,
  tests/testthat/test_Two_Dependent_Props_CI.R); (20, 12, 2, 16), "Newcombe's method 10
  result" (ratesci, tests/testthat/test3.R). The two suites give different concordant cells
  for what looks like the same example (b), 18/18 and 20/16, with uppers 0.3290 and 0.3292;
  both are reproduced here. Two later papers' method-10 results, as ratesci's test3.R quotes
  them: Fagerland, Lydersen & Laake (2014, Stat Med), the Bentur et al. airway data
  (1, 1, 7, 12), and the "Tang (ML) 2010" example (8, 3, 1, 2).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.report.estimates import Estimate, difference, mde, paired_change, proportion, z_for

# Published values are given to 4 decimals: a computed limit must round to them.
PUBLISHED = 5e-5 + 1e-9


def close(value: float, published: float, tolerance: float = PUBLISHED) -> bool:
    return abs(value - published) <= tolerance


def newcombe_paired(e: int, f: int, g: int, h: int) -> Estimate:
    """Newcombe's (e, f, g, h): both yes, yes only first, yes only second, both no.

    His difference is first minus second, (f - g) / n; here "first" is after, so f learners
    said yes only after (before no, after yes) and g only before (before yes, after no).
    """
    return paired_change(
        before_yes_after_yes=e,
        before_yes_after_no=g,
        before_no_after_yes=f,
        before_no_after_no=h,
    )


# --- Wilson score interval (Newcombe 1998a, Table I, method 3) ---------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        # By hand too: r = 0 gives low 0 and high z^2 / (n + z^2) = 3.84146 / 23.84146.
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table_i(successes: int, n: int, low: float, high: float) -> None:
    estimate = proportion(successes, n)
    assert estimate.value == successes / n
    assert estimate.n == n
    assert close(estimate.low, low)
    assert close(estimate.high, high)


def test_wilson_limits_are_exact_at_the_ends() -> None:
    assert proportion(0, 20).low == 0.0
    assert proportion(20, 20).high == 1.0
    # 20/20 mirrors 0/20: its lower limit is 1 - 0.1611.
    assert close(proportion(20, 20).low, 1 - 0.1611)


# --- Difference of independent shares (Newcombe 1998b, Table II, method 10) -------------------


@pytest.mark.parametrize(
    ("s1", "n1", "s2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ],
)
def test_difference_matches_newcombe_table_ii(
    s1: int, n1: int, s2: int, n2: int, low: float, high: float
) -> None:
    estimate = difference(s1, n1, s2, n2)
    assert estimate.value == pytest.approx(s1 / n1 - s2 / n2)
    assert estimate.n == n1 + n2
    assert close(estimate.low, low)
    assert close(estimate.high, high)


def test_difference_of_two_empty_shares_is_the_wilson_uppers() -> None:
    # 0/10 - 0/20, worked by hand: D = 0, low = -(u2 - 0) and high = u1 - 0, where the Wilson
    # upper limit of 0/n is z^2 / (n + z^2): 3.84146 / 23.84146 = 0.1611 for n = 20 (Table I
    # above) and 3.84146 / 13.84146 = 0.2775 for n = 10.
    estimate = difference(0, 10, 0, 20)
    assert estimate.value == 0.0
    assert close(estimate.low, -0.1611)
    assert close(estimate.high, 0.2775)


def test_difference_of_all_against_none() -> None:
    # 10/10 - 0/20, by hand: the Wilson lower limit of 10/10 is n / (n + z^2) = 10 / 13.84146
    # = 0.72246, the upper of 0/20 is 0.16113, so low = 1 - sqrt(0.27754^2 + 0.16113^2)
    # = 1 - 0.32092 = 0.6791, and high = 1 (nothing above 1 is possible).
    estimate = difference(10, 10, 0, 20)
    assert estimate.value == 1.0
    assert close(estimate.low, 0.6791)
    assert estimate.high == 1.0


# --- Paired change (Newcombe 1998c, method 10) ----------------------------------------------


@pytest.mark.parametrize(
    ("cells", "low", "high"),
    [
        ((36, 12, 2, 0), 0.0569, 0.3404),
        ((20, 12, 2, 16), 0.0562, 0.3292),
        ((18, 12, 2, 18), 0.0562, 0.3290),
        # By hand: both marginals are 53/54, so the interval is symmetric about 0.
        ((53, 0, 0, 1), -0.0729, 0.0729),
        # By hand: a margin is empty, so phi = 0; low = 1 - sqrt(2 * (z^2 / (30 + z^2))^2)
        # = 1 - sqrt(2) * 0.11349 = 0.8395.
        ((0, 30, 0, 0), 0.8395, 1.0),
    ],
)
def test_paired_change_matches_newcombe(
    cells: tuple[int, int, int, int], low: float, high: float
) -> None:
    e, f, g, h = cells
    estimate = newcombe_paired(e, f, g, h)
    assert estimate.value == pytest.approx((f - g) / (e + f + g + h))
    assert estimate.n == e + f + g + h
    assert close(estimate.low, low)
    assert close(estimate.high, high)


@pytest.mark.parametrize(
    ("cells", "low", "high", "tolerance"),
    [
        # Fagerland, Lydersen & Laake (2014), Bentur et al. data; published to 3 decimals.
        ((1, 1, 7, 12), -0.507, -0.026, 5e-4 + 1e-9),
        # The "Tang (ML) 2010" example, to 4 decimals.
        ((8, 3, 1, 2), -0.1574, 0.4136, PUBLISHED),
    ],
)
def test_paired_change_matches_later_published_examples(
    cells: tuple[int, int, int, int], low: float, high: float, tolerance: float
) -> None:
    estimate = newcombe_paired(*cells)
    assert close(estimate.low, low, tolerance)
    assert close(estimate.high, high, tolerance)


def test_paired_change_is_after_minus_before() -> None:
    # 10 of 40 said yes before (8 + 2), 20 after (8 + 12): the change is +0.25.
    estimate = paired_change(
        before_yes_after_yes=8,
        before_yes_after_no=2,
        before_no_after_yes=12,
        before_no_after_no=18,
    )
    assert estimate.value == pytest.approx(0.25)
    assert estimate.n == 40
    assert estimate.low > 0


# --- Minimum detectable effect ----------------------------------------------------------------


def test_mde_matches_the_hand_computed_value() -> None:
    # (1.959964 + 0.841621) * sqrt(0.25 * (1/200 + 1/200)) = 2.801585 * 0.05 = 0.14008
    assert mde(200, 200, 0.5) == pytest.approx(0.14008, abs=5e-6)


def test_mde_falls_as_the_arms_grow() -> None:
    values = [mde(n, n, 0.3) for n in (10, 50, 100, 500, 1000, 10_000)]
    assert values == sorted(values, reverse=True)
    assert len(set(values)) == len(values)
    # The MDE scales as 1/sqrt(n): four times the learners, half the effect.
    assert mde(800, 800, 0.3) == pytest.approx(mde(200, 200, 0.3) / 2)


def test_mde_of_an_empty_arm_is_infinite() -> None:
    assert mde(0, 100, 0.5) == math.inf
    assert mde(100, 0, 0.5) == math.inf


def test_mde_grows_with_stricter_alpha_and_more_power() -> None:
    assert mde(100, 100, 0.5, alpha=0.01) > mde(100, 100, 0.5)
    assert mde(100, 100, 0.5, power=0.9) > mde(100, 100, 0.5)


@pytest.mark.parametrize(
    "kwargs",
    [{"p": -0.1}, {"p": 1.1}, {"alpha": 0.0}, {"alpha": 1.0}, {"power": 0.0}, {"power": 1.0}],
)
def test_mde_rejects_impossible_arguments(kwargs: dict[str, float]) -> None:
    arguments: dict[str, float] = {"p": 0.5, **kwargs}
    with pytest.raises(ValueError):
        mde(100, 100, **arguments)


# --- Helpers, results and errors --------------------------------------------------------------


def test_z_for() -> None:
    assert z_for() == pytest.approx(1.959964, abs=1e-6)
    assert z_for(0.90) == pytest.approx(1.644854, abs=1e-6)
    assert z_for(0.99) == pytest.approx(2.575829, abs=1e-6)
    for level in (0.0, 1.0, -0.5, 95.0):
        with pytest.raises(ValueError):
            z_for(level)


def test_estimates_are_frozen() -> None:
    estimate = proportion(3, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        estimate.value = 0.5  # type: ignore[misc]


def test_wider_level_gives_a_wider_interval() -> None:
    narrow, wide = proportion(30, 100, level=0.90), proportion(30, 100, level=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize(
    "call",
    [
        lambda: proportion(0, 0),
        lambda: proportion(5, 4),
        lambda: proportion(-1, 4),
        lambda: proportion(1, 4, level=1.0),
        lambda: difference(1, 0, 1, 10),
        lambda: difference(1, 10, 0, 0),
        lambda: difference(11, 10, 1, 10),
        lambda: difference(1, 10, -1, 10),
        lambda: paired_change(0, 0, 0, 0),
        lambda: paired_change(1, -1, 0, 0),
    ],
)
def test_impossible_counts_raise(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError):
        call()


# --- Properties -------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=300)
levels = st.sampled_from([0.8, 0.9, 0.95, 0.99])


@st.composite
def shares(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=5000))
    return draw(st.integers(min_value=0, max_value=n)), n


def ordered(estimate: Estimate, bottom: float) -> bool:
    return bottom <= estimate.low <= estimate.value <= estimate.high <= 1.0


@given(shares(), levels)
def test_a_share_lies_in_its_interval_within_0_and_1(share: tuple[int, int], level: float) -> None:
    estimate = proportion(*share, level=level)
    assert ordered(estimate, 0.0)
    assert estimate.high > estimate.low


@given(shares())
def test_a_share_and_its_complement_mirror(share: tuple[int, int]) -> None:
    r, n = share
    yes, no = proportion(r, n), proportion(n - r, n)
    assert yes.low == pytest.approx(1 - no.high, abs=1e-12)
    assert yes.high == pytest.approx(1 - no.low, abs=1e-12)


@given(st.integers(min_value=1, max_value=2000))
def test_half_is_centred_on_half(half: int) -> None:
    estimate = proportion(half, 2 * half)
    assert estimate.value == 0.5
    assert estimate.low + estimate.high == pytest.approx(1.0, abs=1e-12)


@given(shares(), shares(), levels)
def test_a_difference_lies_in_its_interval_within_minus_1_and_1(
    first: tuple[int, int], second: tuple[int, int], level: float
) -> None:
    estimate = difference(*first, *second, level=level)
    assert ordered(estimate, -1.0)
    assert estimate.high > estimate.low


@given(shares(), shares())
def test_swapping_the_arms_negates_the_difference(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    forward, backward = difference(*first, *second), difference(*second, *first)
    assert_negated(forward, backward)


@given(shares())
def test_identical_arms_give_a_symmetric_interval_about_0(share: tuple[int, int]) -> None:
    estimate = difference(*share, *share)
    assert estimate.value == 0.0
    assert estimate.low == pytest.approx(-estimate.high, abs=1e-12)


@given(counts, counts, counts, counts, levels)
def test_a_change_lies_in_its_interval_within_minus_1_and_1(
    a: int, b: int, c: int, d: int, level: float
) -> None:
    assume(a + b + c + d > 0)
    estimate = paired_change(a, b, c, d, level=level)
    assert ordered(estimate, -1.0)
    assert estimate.n == a + b + c + d


def assert_negated(one: Estimate, other: Estimate) -> None:
    """`one` is `other` with its sign turned: the value, and the interval mirrored."""
    assert one.value == pytest.approx(-other.value, abs=1e-12)
    assert one.low == pytest.approx(-other.high, abs=1e-12)
    assert one.high == pytest.approx(-other.low, abs=1e-12)


@given(counts, counts, counts, counts)
def test_swapping_before_and_after_negates_the_change(a: int, b: int, c: int, d: int) -> None:
    assume(a + b + c + d > 0)
    forward, backward = paired_change(a, b, c, d), paired_change(a, c, b, d)
    assert_negated(forward, backward)


@given(counts, counts, counts, counts)
def test_counting_no_instead_of_yes_negates_the_change(a: int, b: int, c: int, d: int) -> None:
    assume(a + b + c + d > 0)
    yes, no = paired_change(a, b, c, d), paired_change(d, c, b, a)
    assert_negated(yes, no)


@given(counts, counts)
def test_no_discordant_answers_give_an_interval_about_0(agree_yes: int, agree_no: int) -> None:
    assume(agree_yes + agree_no > 0)
    estimate = paired_change(agree_yes, 0, 0, agree_no)
    assert estimate.value == 0.0
    assert estimate.low == pytest.approx(-estimate.high, abs=1e-12)
    assert estimate.high > 0


@given(st.integers(min_value=1, max_value=5000), st.floats(min_value=0.01, max_value=0.99))
def test_mde_falls_with_every_extra_learner(n: int, p: float) -> None:
    assert mde(n + 1, n + 1, p) < mde(n, n, p)
    assert mde(n + 1, n, p) < mde(n, n, p)
