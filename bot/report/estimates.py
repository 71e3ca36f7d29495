"""Interval estimates for yes/no survey items: shares, arm differences, paired change, MDE.

The impact report compares learners' answers to yes/no items ("do you sell online?") at a
baseline and at follow-up waves, and compares the two randomised arms (encouraged minus
comparison). Everything here is pure arithmetic on counts: the standard library only
(`statistics.NormalDist` for the normal quantiles), no I/O, no NumPy or SciPy.

Methods, all score-based and all recommended by Newcombe for everyday use:

- one share: the Wilson score interval (Wilson 1927; Newcombe 1998a, method 3);
- the difference between two independent shares (two arms at one wave): Newcombe's hybrid
  score interval (Newcombe 1998b, method 10);
- the change in a share for the same learners asked twice (baseline and a follow-up):
  Newcombe's paired score interval with its correlation correction phi (Newcombe 1998c,
  method 10);
- the minimum detectable effect of a two-arm comparison, by the normal approximation.

Intervals are two-sided, 95% unless `level` says otherwise, and have no continuity correction.

References:
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
        J Am Stat Assoc 22:209-212.
    Newcombe RG (1998a). Two-sided confidence intervals for the single proportion: comparison
        of seven methods. Stat Med 17:857-872.
    Newcombe RG (1998b). Interval estimation for the difference between independent
        proportions: comparison of eleven methods. Stat Med 17:873-890.
    Newcombe RG (1998c). Improved confidence intervals for the difference between binomial
        proportions based on paired data. Stat Med 17:2635-2650.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["Estimate", "difference", "mde", "paired_change", "proportion", "z_for"]

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its two-sided confidence interval.

    `value` is a share (0 to 1) for `proportion`, and a difference in shares (-1 to 1) for
    `difference` and `paired_change`; `low <= value <= high` always. `n` is the number of
    learners behind it: the base for a share, both arms together (n1 + n2) for a difference,
    and the number of learners answering on both occasions for a paired change.
    """

    value: float
    low: float
    high: float
    n: int


def z_for(level: float = 0.95) -> float:
    """The two-sided standard normal quantile z_{1-(1-level)/2}: 1.959964 for level 0.95."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, not {level!r}")
    return _NORMAL.inv_cdf(0.5 + level / 2.0)


def _count(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value!r}")


def _wilson(successes: int, n: int, z: float) -> tuple[float, float, float]:
    """(p, low, high) of the Wilson score interval; n > 0 and 0 <= successes <= n."""
    p = successes / n
    z2 = z * z
    centre = 2.0 * successes + z2
    half = z * math.sqrt(z2 + 4.0 * successes * (1.0 - p))
    denominator = 2.0 * (n + z2)
    # At 0 and n the limits are exactly 0 and 1 (the formula gives them up to rounding).
    low = 0.0 if successes == 0 else max(0.0, (centre - half) / denominator)
    high = 1.0 if successes == n else min(1.0, (centre + half) / denominator)
    return p, min(low, p), max(high, p)


def _clamped(value: float, low: float, high: float) -> tuple[float, float]:
    """The limits of a difference, kept within [-1, 1] and around `value` against rounding."""
    return max(-1.0, min(low, value)), min(1.0, max(high, value))


def proportion(successes: int, n: int, level: float = 0.95) -> Estimate:
    """The share successes/n with its Wilson score interval.

    Method: Wilson (1927), the score interval without continuity correction, as method 3 of
    Newcombe (1998a, Stat Med 17:857-872). With p = r/n, q = 1 - p and z = z_for(level), the
    limits are

        (2r + z^2 -/+ z * sqrt(z^2 + 4 r q)) / (2 (n + z^2)),

    which always lie within [0, 1], are 0 exactly when r = 0 and 1 exactly when r = n.

    Raises ValueError when n == 0 (there is no share of nobody: callers check n first and
    show "no answers" instead), when a count is negative or successes > n, and when level is
    not strictly between 0 and 1.
    """
    _count("successes", successes)
    _count("n", n)
    if n == 0:
        raise ValueError("no share can be estimated from n == 0")
    if successes > n:
        raise ValueError(f"successes ({successes}) must not exceed n ({n})")
    p, low, high = _wilson(successes, n, z_for(level))
    return Estimate(value=p, low=low, high=high, n=n)


def difference(s1: int, n1: int, s2: int, n2: int, level: float = 0.95) -> Estimate:
    """The difference p1 - p2 of two independent shares with Newcombe's hybrid score interval.

    Use it for "encouraged arm minus comparison arm" at one wave: s1 of n1 encouraged learners
    and s2 of n2 comparison learners said yes.

    Method: Newcombe (1998b, Stat Med 17:873-890), method 10 ("square and add" of the two
    Wilson score intervals). With Wilson limits (l1, u1) for p1 = s1/n1 and (l2, u2) for
    p2 = s2/n2, and D = p1 - p2:

        low  = D - sqrt((p1 - l1)^2 + (u2 - p2)^2)
        high = D + sqrt((u1 - p1)^2 + (p2 - l2)^2)

    The interval never leaves [-1, 1] and is never of zero width. `n` of the result is
    n1 + n2. Raises ValueError when either n is 0 (as `proportion` does) or a count is invalid.
    """
    z = z_for(level)
    for arm, s, n in ((1, s1, n1), (2, s2, n2)):
        _count(f"s{arm}", s)
        _count(f"n{arm}", n)
        if n == 0:
            raise ValueError(f"no difference can be estimated when n{arm} == 0")
        if s > n:
            raise ValueError(f"s{arm} ({s}) must not exceed n{arm} ({n})")
    p1, l1, u1 = _wilson(s1, n1, z)
    p2, l2, u2 = _wilson(s2, n2, z)
    d = p1 - p2
    low, high = _clamped(
        d,
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )
    return Estimate(value=d, low=low, high=high, n=n1 + n2)


def paired_change(
    before_yes_after_yes: int,
    before_yes_after_no: int,
    before_no_after_yes: int,
    before_no_after_no: int,
    level: float = 0.95,
) -> Estimate:
    """The change (after minus before) in a share for the same learners asked twice.

    The four counts are the cells of the paired 2x2 table of the learners who answered on both
    occasions. The change is

        theta = p_after - p_before = (before_no_after_yes - before_yes_after_no) / n.

    Method: Newcombe (1998c, "Improved confidence intervals for the difference between binomial
    proportions based on paired data", Stat Med 17:2635-2650), method 10: the Wilson score
    intervals of the two marginal shares, combined as for independent shares but with a
    correction for the correlation between them. In Newcombe's notation, e = both yes, f = yes
    only on the occasion counted first (here: after), g = yes only on the other (here: before),
    h = both no, n = e + f + g + h; so theta = (f - g) / n. With

        p1 = (e + f) / n  (after),  Wilson limits (l1, u1)
        p2 = (e + g) / n  (before), Wilson limits (l2, u2)
        A  = (e + f)(g + h)(e + g)(f + h),   B = e h - f g
        C  = B - n/2 if B > n/2;  0 if 0 <= B <= n/2;  B if B < 0
        phi = C / sqrt(A), or 0 when A == 0 (a margin is empty)

    (phi is the phi coefficient of the table, shrunk towards 0 when positive), the limits are

        low  = theta - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
        high = theta + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)

    The interval lies within [-1, 1]. `n` of the result is the number of pairs. Raises
    ValueError when there are no pairs at all or a count is negative.
    """
    e, f, g, h = (
        before_yes_after_yes,
        before_no_after_yes,
        before_yes_after_no,
        before_no_after_no,
    )
    for name, value in (
        ("before_yes_after_yes", e),
        ("before_no_after_yes", f),
        ("before_yes_after_no", g),
        ("before_no_after_no", h),
    ):
        _count(name, value)
    n = e + f + g + h
    if n == 0:
        raise ValueError("no change can be estimated from 0 pairs")
    z = z_for(level)
    p1, l1, u1 = _wilson(e + f, n, z)
    p2, l2, u2 = _wilson(e + g, n, z)
    theta = (f - g) / n
    a = (e + f) * (g + h) * (e + g) * (f + h)
    b = e * h - f * g
    if a == 0:
        phi = 0.0
    else:
        c = b - n / 2.0 if b > n / 2.0 else (0.0 if b >= 0 else float(b))
        phi = c / math.sqrt(a)
    dl1, du1 = p1 - l1, u1 - p1
    dl2, du2 = p2 - l2, u2 - p2
    # Each radicand is at least (x - y)^2 >= 0 as |phi| <= 1; max() guards against rounding.
    delta = math.sqrt(max(0.0, dl1 * dl1 - 2.0 * phi * dl1 * du2 + du2 * du2))
    epsilon = math.sqrt(max(0.0, du1 * du1 - 2.0 * phi * du1 * dl2 + dl2 * dl2))
    low, high = _clamped(theta, theta - delta, theta + epsilon)
    return Estimate(value=theta, low=low, high=high, n=n)


def mde(n1: int, n2: int, p: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The minimum detectable effect, in proportion points, of comparing two independent shares.

    Method: the normal approximation for a two-sided test at level alpha with the given power,
    both arms having the baseline share p (Bloom HS 1995, "Minimum detectable effects: a simple
    way to report the statistical power of experimental designs", Evaluation Review
    19:547-556, whose multiplier is z_{1-alpha/2} + z_{power}, about 2.8 at 0.05 and 0.8):

        MDE = (z_{1-alpha/2} + z_{power}) * sqrt(p (1 - p) (1/n1 + 1/n2))

    With n1 = n2 = 200, p = 0.5, alpha = 0.05 and power = 0.8 that is
    (1.959964 + 0.841621) * sqrt(0.25 * 0.01) = 0.14008. It is an approximation: it uses the
    variance at p for both arms and ignores the continuity correction, so for small arms or p
    near 0 or 1 the true MDE is larger. Returns math.inf when either arm is empty, and 0.0 when
    p is 0 or 1 (no variation to detect an effect against: the formula degenerates).

    Raises ValueError when an n is negative, p is outside [0, 1], or alpha or power is not
    strictly between 0 and 1.
    """
    _count("n1", n1)
    _count("n2", n2)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be within [0, 1], not {p!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, not {alpha!r}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1, not {power!r}")
    if n1 == 0 or n2 == 0:
        return math.inf
    z_alpha = _NORMAL.inv_cdf(1.0 - alpha / 2.0)
    z_power = _NORMAL.inv_cdf(power)
    return (z_alpha + z_power) * math.sqrt(p * (1.0 - p) * (1.0 / n1 + 1.0 / n2))
