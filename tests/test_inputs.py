"""What a learner types into an input step: accepted as typed, or refused with a hint."""

from __future__ import annotations

import pytest

from bot.content.model import InputStep
from bot.engine.inputs import MAX_DIGITS, check_input

NUMBER = InputStep.model_validate(
    {"id": "sales", "type": "input", "text": "How much?", "field": "sales", "validate": "number"}
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("25", "25"), ("1,500,000", "1500000"), ("๒๕", "25"), ("-3.5", "-3.5"), ("9" * 15, "9" * 15)],
)
def test_numbers_people_type_are_accepted(typed: str, stored: str) -> None:
    assert check_input(NUMBER, typed) == (stored, "")


@pytest.mark.parametrize("typed", ["9" * (MAX_DIGITS + 1), "7" * 10_000, "1." + "5" * 20])
def test_a_number_too_long_to_be_real_is_refused(typed: str) -> None:
    value, hint = check_input(NUMBER, typed)
    assert value is None and hint == "Please type a number, like 25."
