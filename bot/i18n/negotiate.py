"""Map a Telegram `language_code` to a shipped locale, with Babel."""

from __future__ import annotations

from collections.abc import Iterable

from babel.core import negotiate_locale

# Codes phones send that Babel's own aliases don't map to our locales: old Java codes for
# Indonesian, Tagalog for Filipino, and the Malay and Burmese macro/individual codes.
ALIASES = {
    "in": "id",
    "tl": "fil",
    "zsm": "ms",
    "mya": "my",
    "fil": "fil",
    "khm": "km",
    "lao": "lo",
    "tha": "th",
    "vie": "vi",
    "ind": "id",
    "msa": "ms",
    "zlm": "ms",
}


def negotiate(hint: str, available: Iterable[str], default: str) -> str:
    """The shipped locale for `hint` (`in`, `tl`, `ms-MY`, `th_TH`...), else `default`."""
    shipped = list(available)
    code = hint.strip().replace("-", "_")
    if not code:
        return default
    language = code.split("_")[0].lower()
    candidates = [code, ALIASES.get(language, language)]
    found = negotiate_locale(candidates, shipped, sep="_", aliases=ALIASES)
    return found or default
