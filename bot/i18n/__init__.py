"""Translations with Babel: the bot's own strings (`messages`) and lesson strings (`lessons`).

Catalogs are compiled `.mo` files under `locales/<lang>/LC_MESSAGES/`. A string with no
translation is shown as written in the source language.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

DOMAINS = ("messages", "lessons")


class Catalogs:
    """Implements the engine's `Texts` from compiled catalogs."""

    def __init__(self, locales_dir: str | Path, default_locale: str = "en") -> None:
        self.dir = Path(locales_dir)
        self.default_locale = default_locale
        self._cache: dict[tuple[str, str], gettext.NullTranslations] = {}

    def locales(self) -> list[str]:
        """Shipped locales: the default plus every folder with a catalog."""
        found = {p.name for p in self.dir.glob("*") if (p / "LC_MESSAGES").is_dir()}
        return [self.default_locale, *sorted(found - {self.default_locale})]

    def languages(self) -> dict[str, str]:
        """Each locale's name in its own language and script, for the language menu."""
        names = {}
        for code in self.locales():
            try:
                locale = Locale.parse(code)
                names[code] = (locale.get_display_name(locale) or code).capitalize()
            except (UnknownLocaleError, ValueError):
                names[code] = code
        return names

    def _catalog(self, locale: str, domain: str) -> gettext.NullTranslations:
        key = (locale, domain)
        if key not in self._cache:
            found = Translations.load(str(self.dir), [locale], domain)
            self._cache[key] = found if isinstance(found, Translations) else NullTranslations()
        return self._cache[key]

    def ui(self, locale: str, message: str) -> str:
        return self._catalog(locale, "messages").gettext(message)

    def lesson(self, locale: str, context: str, source: str) -> str:
        return self._catalog(locale, "lessons").pgettext(context, source)
