"""Languages: Babel catalogs, locale negotiation and Burmese input."""

from bot.i18n.catalogs import Catalogs
from bot.i18n.negotiate import negotiate

__all__ = ["Catalogs", "negotiate"]
