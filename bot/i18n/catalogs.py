"""Compiled Babel catalogs: the bot's own strings (`messages`) and lesson strings (`lessons`).

Catalogs live in `locales/<lang>/LC_MESSAGES/<domain>.po`. The `.mo` files are built, never
committed: `pybabel compile` builds them. Where a `.mo` is missing or older than its `.po`, the
bot compiles the `.po` in memory, so a fresh clone just works and a read-only deploy folder is
never written to.

Fuzzy entries (a translation whose source text changed since) are shown: a slightly stale
translation serves a learner better than a sudden switch to English. `lessonbot lint` lists
them so a translator updates them.

An entry that `lessonbot lint` reports an error on (bot/i18n/check.py: an unclosed `<b>`, a
placeholder renamed) is not served: Telegram would refuse every message holding it, or the
text couldn't be filled in. Learners see its source text instead, and the log says so once
per entry, at its `.po` line, as the lessons with errors are left out.
"""

from __future__ import annotations

import io
import logging
import struct
from datetime import date
from pathlib import Path
from typing import BinaryIO

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from bot.i18n.check import rejected_entries

log = logging.getLogger(__name__)


def compiled(po: Path, catalog: Catalog | None = None) -> BinaryIO:
    """`po`'s compiled form: its `.mo` if that is up to date, else compiled in memory (from
    `catalog`, `po` already read, if given)."""
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return io.BytesIO(mo.read_bytes())
    if catalog is None:
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name, domain=po.stem)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=True)  # fuzzy included: see the module docstring
    buffer.seek(0)
    return buffer


class Catalogs:
    """Implements the engine's `Texts` from the catalogs in `locales_dir`."""

    def __init__(self, locales_dir: str | Path, default_locale: str = "en") -> None:
        self.dir = Path(locales_dir)
        self.default_locale = default_locale
        self._cache: dict[tuple[str, str], NullTranslations] = {}
        self._missing_logged: set[tuple[str, str]] = set()

    def locales(self) -> list[str]:
        """Shipped locales: the default plus every folder with a catalog."""
        found = {p.parent.parent.name for p in self.dir.glob("*/LC_MESSAGES/*.po")}
        return [self.default_locale, *sorted(found - {self.default_locale})]

    def languages(self) -> dict[str, str]:
        """Each locale's name in its own language and script, for the language menu."""
        return {code: self.language_name(code) for code in self.locales()}

    @staticmethod
    def language_name(code: str) -> str:
        try:
            locale = Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            return code
        name = locale.get_display_name(locale) or code
        return name[:1].upper() + name[1:]

    def _catalog(self, locale: str, domain: str) -> NullTranslations:
        key = (locale, domain)
        if key not in self._cache:
            po = self.dir / locale / "LC_MESSAGES" / f"{domain}.po"
            if po.exists():
                self._cache[key] = self._load(po, locale, domain)
            else:
                self._cache[key] = NullTranslations()
        return self._cache[key]

    def _load(self, po: Path, locale: str, domain: str) -> NullTranslations:
        """`po`'s translations, less the entries lint rejects: those show their source text."""
        try:
            with po.open("rb") as handle:
                source = read_po(handle, locale=locale, domain=domain)
            translations = Translations(compiled(po, source), domain=domain)
        except (OSError, ValueError, PoFileError, struct.error) as exc:
            log.error(
                "%s: cannot read this catalog (%s); learners see the source text of all of "
                "it until it is fixed (run `lessonbot lint %s`)",
                po,
                exc,
                po,
            )
            return NullTranslations()
        # The .mo holds what the .po held when it was compiled; the .po has the line numbers.
        table = getattr(translations, "_catalog", {})
        for (context, msgid), errors in rejected_entries(str(po), source).items():
            table.pop(msgid if context is None else f"{context}\x04{msgid}", None)
            if context is not None:
                self._missing_logged.add((locale, context))  # logged here, with the reason
            log.error(
                "%s:%d: %s; learners see the source text instead until it is fixed "
                "(run `lessonbot lint %s`)",
                po,
                errors[0].line,
                "; also ".join(sorted(d.message for d in errors)),
                po,
            )
        return translations

    def ui(self, locale: str, message: str) -> str:
        return self._catalog(locale, "messages").gettext(message)

    def lesson(self, locale: str, context: str, source: str) -> str:
        catalog = self._catalog(locale, "lessons")
        translated = str(catalog.pgettext(context, source))
        # A translation may equal its source (a brand name), so look the entry up.
        missing = locale != self.default_locale and f"{context}\x04{source}" not in getattr(
            catalog, "_catalog", {}
        )
        if missing and (locale, context) not in self._missing_logged:
            # The source text is shown. Say so once, not on every message.
            self._missing_logged.add((locale, context))
            log.warning("no %s translation for %s; showing the source text", locale, context)
        return translated

    def number(self, locale: str, value: int) -> str:
        return str(format_decimal(value, locale=locale))

    def day(self, locale: str, when: date) -> str:
        if locale == "th":  # Thai readers count years in the Buddhist era: 2026 is พ.ศ. 2569
            return f"{format_date(when, format='d MMMM', locale=locale)} พ.ศ. {when.year + 543}"
        return str(format_date(when, format="long", locale=locale))

    def country(self, locale: str, code: str) -> str:
        try:
            return str(Locale.parse(locale).territories.get(code, code))
        except (UnknownLocaleError, ValueError):
            return code
