"""Burmese typed in the Zawgyi encoding, converted to Unicode before matching.

Many phones in Myanmar still use Zawgyi, which reuses Unicode's Myanmar code points with other
meanings. Google's detector (`myanmartools`) tells which it is; `python-myanmar` converts.
"""

from __future__ import annotations

import warnings
from functools import cache

from myanmar.converter import convert
from myanmartools import ZawgyiDetector

ZAWGYI_THRESHOLD = 0.95  # the detector's own recommended cut-off


@cache
def _detector() -> ZawgyiDetector:
    # myanmartools 1.2 reads its model with a deprecated importlib call; harmless, so quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ZawgyiDetector()  # loads its model once


def to_unicode(text: str) -> str:
    """`text` in Unicode Burmese; unchanged unless it is almost surely Zawgyi."""
    if not any("\u1000" <= ch <= "\u109f" for ch in text):
        return text
    if _detector().get_zawgyi_probability(text) < ZAWGYI_THRESHOLD:
        return text
    return str(convert(text, "zawgyi", "unicode"))
