"""Course certificates: a PNG per learner, in any of the bot's scripts.

Fonts (Noto, OFL) ship in ``fonts/``; see ``fonts/README.md``.
"""

from __future__ import annotations

from bot.certificates.render import CertificateText, render_certificate
from bot.certificates.runs import missing_glyphs

__all__ = ["CertificateText", "missing_glyphs", "render_certificate"]
