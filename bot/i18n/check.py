"""Lint for translation catalogs: the mistakes a translator can make before a learner sees them.

Each `.po` entry is checked against its English source: placeholders kept, HTML balanced and
allowed (none at all in button labels), Telegram's length limit. Fuzzy entries (the English
changed since) are warnings: the bot still shows them, a translator should update them.
Coverage compares each catalog with what the lessons and the code contain today. The bot runs
the same checks when it loads a catalog, and serves the source text of an entry they reject.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po

from bot.content import text as tx
from bot.content.diagnostics import Diagnostic, Severity


@dataclass(frozen=True)
class Coverage:
    locale: str
    domain: str
    total: int
    translated: int
    fuzzy: int

    @property
    def missing(self) -> int:
        return self.total - self.translated - self.fuzzy

    def __str__(self) -> str:
        done = 100 * self.translated // self.total if self.total else 100
        return (
            f"{self.locale} {self.domain}: {done}% ({self.translated} translated, "
            f"{self.fuzzy} fuzzy, {self.missing} missing of {self.total})"
        )


def is_label(context: str | None) -> bool:
    """Button labels are shown as plain text by Telegram, so they must hold no HTML."""
    if not context:
        return False
    parts = context.split("/")
    return parts[-1] == "button" or (
        len(parts) >= 3 and parts[-3] == "options" and parts[-1] == "label"
    )


def check_catalog(
    path: Path, expected: set[tuple[str | None, str]] | None
) -> tuple[list[Diagnostic], Coverage | None]:
    """Problems in one `.po` file, and its coverage of the `expected` (context, source) pairs."""
    where = str(path)
    try:
        with path.open("rb") as handle:
            catalog: Catalog = read_po(handle, abort_invalid=True)
    except (PoFileError, ValueError, UnicodeDecodeError) as exc:
        return [Diagnostic(where, 1, 1, Severity.ERROR, f"cannot read this catalog: {exc}")], None
    problems: list[Diagnostic] = []
    present: dict[tuple[str | None, str], Message] = {}
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        present[(message.context, message.id)] = message
        translation = message.string if isinstance(message.string, str) else ""
        if translation:
            problems += _check_entry(where, message, translation)
        if message.fuzzy:
            problems.append(
                Diagnostic(
                    where,
                    message.lineno or 1,
                    1,
                    Severity.WARNING,
                    "fuzzy: the English changed since this was translated; "
                    "update the translation and remove the fuzzy flag",
                )
            )
    keys = expected if expected is not None else set(present)
    translated = fuzzy = 0
    for key in keys:
        found = present.get(key)
        if found is not None and found.string:
            if found.fuzzy:
                fuzzy += 1
            else:
                translated += 1
    locale = path.parent.parent.name
    coverage = Coverage(locale, path.stem, len(keys), translated, fuzzy)
    if coverage.missing:
        problems.append(
            Diagnostic(
                where,
                1,
                1,
                Severity.WARNING,
                f"{coverage.missing} text(s) not translated yet; learners see "
                "them in the source language. Run `pybabel update` (README) "
                "and translate the empty entries",
            )
        )
    return problems, coverage


Key = tuple[str | None, str]  # (context, source text) of an entry


def rejected_entries(where: str, catalog: Catalog) -> dict[Key, list[Diagnostic]]:
    """The entries whose translation lint reports an error on, with those errors.

    The bot serves their source text instead (bot/i18n/catalogs.py): a broken translation
    (an unclosed `<b>`, a renamed `{n}`) would fail every send of it. Warnings don't count.
    """
    found: dict[Key, list[Diagnostic]] = {}
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        translation = message.string if isinstance(message.string, str) else ""
        if not translation:
            continue
        errors = [
            d for d in _check_entry(where, message, translation) if d.severity is Severity.ERROR
        ]
        if errors:
            found[(message.context, message.id)] = errors
    return found


def _check_entry(where: str, message: Message, translation: str) -> list[Diagnostic]:
    source = str(message.id)
    line = message.lineno or 1

    def error(text: str) -> Diagnostic:
        return Diagnostic(where, line, 1, Severity.ERROR, text)

    found: list[Diagnostic] = []
    wanted = {name for _, name in tx.placeholders(source)}
    got = {name for _, name in tx.placeholders(translation)}
    for name in sorted(wanted - got):
        found.append(
            error(
                f"the translation lost the placeholder {{{name}}}; put it back "
                "(it can move within the sentence)"
            )
        )
    for name in sorted(got - wanted):
        found.append(
            error(
                f"the translation has {{{name}}}, which the English doesn't; "
                "placeholder names must not be translated"
            )
        )
    label = is_label(message.context)
    check = tx.check_label if label else tx.check_html
    found += [error(problem.message) for problem in check(translation)]
    too_long = label and tx.label_length_problem(translation, option=False)
    if too_long:
        is_error, said = too_long
        found.append(
            Diagnostic(
                where,
                line,
                1,
                Severity.ERROR if is_error else Severity.WARNING,
                f"the translation's {said}",
            )
        )
    length = tx.visible_length(translation)
    if length > tx.TELEGRAM_TEXT_LIMIT:
        found.append(
            error(
                f"the translation is {length} characters; Telegram refuses more "
                f"than {tx.TELEGRAM_TEXT_LIMIT}"
            )
        )
    elif length > tx.PHONE_SCREEN_CHARS >= tx.visible_length(source):
        found.append(
            Diagnostic(
                where,
                line,
                1,
                Severity.WARNING,
                f"the translation is {length} characters, longer than a phone "
                "screen; shorten it if you can",
            )
        )
    return found
