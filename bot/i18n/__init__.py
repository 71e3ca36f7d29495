"""Languages: Babel catalogs, locale negotiation and Burmese input."""

from bot.i18n.catalogs import Catalogs, compile_catalog
from bot.i18n.negotiate import negotiate

__all__ = ["Catalogs", "compile_catalog", "negotiate"]
