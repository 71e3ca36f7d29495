"""The encouragement's assignment (bot/journey/trial.py), without a database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.journey.trial import ARMS, COMPARISON, ENCOURAGED, arm_for

seeds = st.text(min_size=1, max_size=20)


@given(seeds, st.integers(0, 10**6), st.integers(1, 400))
def test_any_run_of_learners_is_balanced_within_four(seed: str, first: int, count: int) -> None:
    # Each whole block of four holds two of each arm; only the blocks cut at the two ends of
    # the run can tip it, by two each.
    arms = [arm_for(seed, i) for i in range(first, first + count)]
    assert abs(arms.count(ENCOURAGED) - arms.count(COMPARISON)) <= 4


@given(seeds, st.integers(0, 10**6))
def test_each_block_of_four_holds_two_of_each_arm(seed: str, block: int) -> None:
    arms = [arm_for(seed, 4 * block + place) for place in range(4)]
    assert sorted(arms) == sorted(ARMS * 2)


def test_the_arms_are_reproducible_from_the_seed_alone() -> None:
    # Every worker, on any machine and Python, computes the same arms from the seed and the
    # ids (a string seeds random.Random through SHA-512, not the per-process hash).
    assert "".join(arm_for("seed-a", i)[0] for i in range(12)) == "eeccceceecec"


def test_the_seed_decides_the_order() -> None:
    # Not one fixed pattern: over many blocks, different seeds give different assignments.
    first = [arm_for("seed-a", i) for i in range(400)]
    second = [arm_for("seed-b", i) for i in range(400)]
    assert first != second
    orders = {tuple(arm_for("seed-a", 4 * b + p) for p in range(4)) for b in range(100)}
    assert len(orders) == 6  # every arrangement of two and two appears
