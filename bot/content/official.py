"""Which web domains are official: a government's own, or a state body's that lives elsewhere.

The online-safety and relief courses teach learners to trust official sites, so every link in a
scheme or hotline entry should be on one. A government suffix is a strong sign, not proof (the
lessons say so too); the named domains below are state bodies outside those suffixes, each with
who runs it, so a reviewer can check the claim.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# The ten ASEAN members' government suffixes (Thailand and Indonesia use .go.*).
GOVERNMENT_SUFFIXES = (
    ".go.id",
    ".gov.my",
    ".gov.sg",
    ".go.th",
    ".gov.ph",
    ".gov.vn",
    ".gov.kh",
    ".gov.la",
    ".gov.mm",
    ".gov.bn",
)

# State bodies whose sites are not under a government suffix.
STATE_BODIES = {
    "ssm.com.my": "Companies Commission of Malaysia (SSM), a statutory body",
    "paynet.my": "Payments Network Malaysia, run under Bank Negara Malaysia",
    "sbgfc.org.ph": "Small Business Corporation (SB Corp), attached to DTI: its older domain",
    "tcg.or.th": "Thai Credit Guarantee Corporation, a state enterprise of the Ministry of Finance",
    "bot.or.th": "Bank of Thailand, the central bank",
    "smebank.co.th": "SME Development Bank of Thailand (SME D Bank), a state bank",
    "cgcc.com.kh": "Credit Guarantee Corporation of Cambodia, owned by the Ministry of Economy",
    "smebankcambodia.com.kh": "SME Bank of Cambodia, owned by the Ministry of Economy and Finance",
    "nbc.org.kh": "National Bank of Cambodia, the central bank",
}


def is_official(link: str) -> bool:
    """Whether `link` is on a government domain or a named state body's."""
    host = (urlsplit(link).hostname or "").lower().rstrip(".")
    if any(host.endswith(suffix) for suffix in GOVERNMENT_SUFFIXES):
        return True
    return any(host == name or host.endswith("." + name) for name in STATE_BODIES)
