"""A WhatsApp number's country, from its calling code: a guess for the learner to confirm.

The wa_id is the phone number in international form, digits only ("6281234567890"). The
calling codes are the ITU's (E.164 assignments, ITU-T Rec. E.164 Annex, checked 2026-12-02)
for the ten ASEAN members the programme serves; no two of them share a prefix.
"""

from __future__ import annotations

CALLING_CODES = {
    "673": "BN",
    "855": "KH",
    "62": "ID",
    "856": "LA",
    "60": "MY",
    "95": "MM",
    "63": "PH",
    "65": "SG",
    "66": "TH",
    "84": "VN",
}


def country_of(wa_id: str) -> str:
    """The ASEAN country whose calling code begins `wa_id`, or "" for any other number."""
    for code, country in CALLING_CODES.items():
        if wa_id.startswith(code):
            return country
    return ""
