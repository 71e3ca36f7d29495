"""Checking what a learner types into an `input` step."""

from __future__ import annotations

import re
import unicodedata

from bot.content.model import InputStep
from bot.engine.context import N_
from bot.engine.matching import fold, match_label

MAX_TEXT = 200
# Digits in a number answer: more than any real price, count or amount (a trillion dong has
# 13), and few enough that an answer echoed back can never outgrow a message.
MAX_DIGITS = 15
_PHONE_JUNK = re.compile(r"[\s\-().]")
# A made-up number as people write them in each country, for the hint after a mistyped phone
# number: a learner copies the shape they see, so it should be their own country's.
PHONE_EXAMPLES = {
    "BN": "+673 712 3456",
    "ID": "+62 812 3456 7890",
    "KH": "+855 12 345 678",
    "LA": "+856 20 5512 3456",
    "MM": "+95 9 123 456 789",
    "MY": "+60 12-345 6789",
    "PH": "+63 917 123 4567",
    "SG": "+65 8123 4567",
    "TH": "+66 81 234 5678",
    "VN": "+84 91 234 5678",
}
# Where the learner gave no country: the country most speakers of the locale live in.
LOCALE_COUNTRY = {
    "id": "ID",
    "ms": "MY",
    "th": "TH",
    "vi": "VN",
    "fil": "PH",
    "km": "KH",
    "lo": "LA",
    "my": "MM",
}


def phone_example(country: str, locale: str) -> str:
    return PHONE_EXAMPLES.get(country) or PHONE_EXAMPLES[LOCALE_COUNTRY.get(locale, "SG")]


def _ascii_digits(text: str) -> str:
    """Turn Thai, Khmer, Lao, Burmese and full-width digits into 0-9."""
    out = []
    for ch in text:
        d = unicodedata.decimal(ch, None)
        out.append(str(d) if d is not None else ch)
    return "".join(out)


def check_input(step: InputStep, typed: str) -> tuple[str | None, str]:
    """(value to store, "") if `typed` is acceptable, else (None, a hint to translate).

    A hint may hold `{choices}` or `{example}`, which the caller fills after translating.
    """
    text = " ".join(unicodedata.normalize("NFKC", typed).split())
    if step.check == "number":
        candidate = _ascii_digits(text).replace(",", "").replace(" ", "")
        digits = sum(ch.isdigit() for ch in candidate)
        if re.fullmatch(r"-?\d+(\.\d+)?", candidate) and digits <= MAX_DIGITS:
            return candidate, ""
        return None, N_("Please type a number, like 25.")
    if step.check == "phone":
        candidate = _PHONE_JUNK.sub("", _ascii_digits(text))
        if re.fullmatch(r"\+?\d{7,15}", candidate):
            return candidate, ""
        return None, N_("Please type a phone number with its country code, like {example}.")
    if step.check == "one_of":
        choices = list(step.choices or ())
        found = match_label(text, choices)
        if found is not None:
            return choices[found], ""
        return None, N_("Please type one of these: {choices}")
    if not fold(text):
        return None, N_("Please type a short answer.")
    if len(text) > MAX_TEXT:
        return None, N_("Please keep your answer shorter.")
    return text, ""
