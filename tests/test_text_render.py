"""Filling a text's placeholders: values escaped, and a missing name leaving no gap."""

from __future__ import annotations

import pytest

from bot.content.text import render


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Hi {first_name}! Well done, {first_name}!", "Hi! Well done!"),
        (
            "Kumusta, {first_name}! Huminto ka sa gitna ng “{lesson}”.",
            "Kumusta! Huminto ka sa gitna ng “L”.",
        ),
        ("{first_name} wrote", " wrote"),
    ],
)
def test_a_name_the_app_did_not_give_leaves_no_gap(text: str, shown: str) -> None:
    # Messenger and Zalo give no name: the greeting must not read "Hi !".
    assert render(text, {"lesson": "L"}) == shown


def test_given_values_are_filled_and_escaped() -> None:
    assert render("Hi {first_name}! Well done, {first_name}!", {"first_name": "Ana & Bo"}) == (
        "Hi Ana &amp; Bo! Well done, Ana &amp; Bo!"
    )
    assert render("Hi {first_name}!", {"first_name": "Ana & Bo"}, escape=False) == "Hi Ana & Bo!"
