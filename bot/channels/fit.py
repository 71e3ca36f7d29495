"""Does every lesson fit every messaging app? Lint's check of the content against the apps'
declared capabilities (bot/channels/capabilities.py), in every locale.

content/ knows no channel, so this check lives on the channel side. For each step with choices,
every app in `CHANNELS` shows them as its `Capabilities.form` says: as buttons, as a list, or as
numbered text. A label the app would cut there is a warning, in the source and in each catalog's
translation (at the `.po` line, as bot/i18n/check.py reports); a step's media that an app cannot
send is an error. A label past Telegram's hard limit is an error of its own (content's
`label_length_problem`) that keeps its lesson, or its translation, out of the bot, so it never
reaches this check: it is reported once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po

from bot.channels import capabilities
from bot.channels.capabilities import Capabilities
from bot.content.diagnostics import Diagnostic, Severity
from bot.content.library import Library, LoadedLesson
from bot.content.model import MessageStep, Step, SurveyStep
from bot.content.source import Path as DataPath
from bot.content.source import Source, read_file
from bot.i18n.check import is_label, rejected_entries

MEDIA = {"image": "photo", "document": "document"}  # a message step's key -> the media kind


@dataclass(frozen=True)
class _Label:
    """One choice of a step: where its source label is, and its catalog context."""

    path: DataPath  # in the lesson file
    context: str  # msgctxt of its translations
    source: str
    option: bool  # an option's label (its whole answer can go in `text:`), not a step's button


@dataclass(frozen=True)
class _Shown:
    """A label as one locale shows it, and where a problem with it is reported."""

    text: str
    ident: tuple[object, ...]  # the same label in the same place: reported once per reason
    where: Callable[[], tuple[str, int, int]]  # path, line, col (found only when reported)
    option: bool
    translated: bool


class _Sources:
    """Lesson files read again for their positions, each once and only when needed."""

    def __init__(self) -> None:
        self._read: dict[str, Source] = {}

    def __getitem__(self, path: str) -> Source:
        if path not in self._read:
            self._read[path] = read_file(path)
        return self._read[path]

    def shown(self, lesson: LoadedLesson, label: _Label) -> _Shown:
        return _Shown(
            label.source,
            (lesson.path, label.path),
            lambda: _at(self[lesson.path], label.path),
            label.option,
            False,
        )


Found = dict[tuple[object, ...], Diagnostic]


def check_lessons(
    library: Library, channels: Iterable[Capabilities] | None = None
) -> list[Diagnostic]:
    """The source locale's labels and every step's media, against every app."""
    apps = list(capabilities.CHANNELS.values() if channels is None else channels)
    found: Found = {}
    sources = _Sources()
    for course in library.courses:
        for lesson in course.lessons:
            for i, step in enumerate(lesson.steps):
                _media(found, sources, lesson, i, step, apps)
                shown = [sources.shown(lesson, la) for la in _labels(lesson, i, step)]
                _fit(found, shown, course.course.source_locale, apps)
    return list(found.values())


def check_translations(
    library: Library, locales_dir: Path, channels: Iterable[Capabilities] | None = None
) -> list[Diagnostic]:
    """Each catalog's translated labels, against every app; at the `.po` entry's line.

    A label without a translation (or with one lint rejects, which the bot does not serve) is
    shown in the source text: where that is too long in a locale's form, it is reported on the
    lesson file, once per app and reason whatever the locale, and not if the source locale
    already has that problem (check_lessons reports it).
    """
    apps = list(capabilities.CHANNELS.values() if channels is None else channels)
    sources = _Sources()
    steps = [  # (source locale, lesson, the labels of one of its steps with choices)
        (course.course.source_locale, lesson, labels)
        for course in library.courses
        for lesson in course.lessons
        for i, step in enumerate(lesson.steps)
        if (labels := _labels(lesson, i, step))
    ]
    theirs: Found = {}
    for locale, lesson, labels in steps:
        _fit(theirs, [sources.shown(lesson, la) for la in labels], locale, apps)
    found: Found = dict(theirs)
    for po in sorted(locales_dir.glob("*/LC_MESSAGES/lessons.po")):
        translations = _translations(po)
        if translations is None:
            continue  # unreadable: check_catalog says so
        for _, lesson, labels in steps:
            shown = []
            for la in labels:
                entry = translations.get((la.context, la.source))
                if entry is None:
                    shown.append(sources.shown(lesson, la))
                else:
                    text, line = entry
                    where = (str(po), line, 1)
                    shown.append(_Shown(text, where, _given(where), la.option, True))
            _fit(found, shown, po.parent.parent.name, apps)
    return [d for key, d in found.items() if key not in theirs]


def _translations(po: Path) -> dict[tuple[str | None, str], tuple[str, int]] | None:
    """(context, source) -> (translation, line) of every label the bot serves translated."""
    try:
        with po.open("rb") as handle:
            catalog: Catalog = read_po(handle, abort_invalid=True)
    except (OSError, PoFileError, ValueError, UnicodeDecodeError):
        return None
    labels = Catalog(locale=None)
    for m in catalog:
        served = isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
        if served and is_label(m.context):
            labels[m.id] = m  # the catalog keys it by (id, context)
    rejected = rejected_entries(str(po), labels)
    return {
        (m.context, str(m.id)): (str(m.string), m.lineno or 1)
        for m in labels
        if m.id and (m.context, m.id) not in rejected
    }


def _labels(lesson: LoadedLesson, i: int, step: Step) -> list[_Label]:
    """The labels of step `i`'s choices, as the engine shows them (bot/engine/runtime.py)."""
    base = f"{lesson.key}/{step.id}"
    if isinstance(step, MessageStep):
        if not step.button:
            return []  # the bot's own "Next" is shown: not lesson content
        return [_Label(("steps", i, "button"), f"{base}/button", step.button, False)]
    if isinstance(step, SurveyStep) and step.kind == "scale":
        return []  # its buttons are the numbers
    return [
        _Label(("steps", i, "options", j, "label"), f"{base}/options/{o.id}/label", o.label, True)
        for j, o in enumerate(getattr(step, "options", None) or ())
    ]


def _fit(
    found: Found,
    shown: list[_Shown],
    locale: str,
    apps: list[Capabilities],
) -> None:
    if not shown:
        return
    for app in apps:
        form = app.form(len(shown), max(len(s.text) for s in shown))
        limit = app.label_chars if form == "buttons" else app.row_chars if form == "list" else 0
        if not limit:
            continue  # numbered text: every label is shown whole
        for label in shown:
            length = len(label.text)
            if length <= limit:
                continue
            key = (app.channel, form, *label.ident)
            if key not in found:
                found[key] = Diagnostic(
                    *label.where(),
                    Severity.WARNING,
                    _message(app, form, len(shown), label, locale),
                )


def _message(app: Capabilities, form: str, count: int, label: _Shown, locale: str) -> str:
    these = "this choice" if count == 1 else f"these {count} choices"
    if form == "buttons":
        how = f"as buttons, and cuts a button's label past {app.label_chars} characters"
    else:
        how = (
            f"as a list, and cuts a row's label past {app.row_chars} characters (the whole "
            "label shows only in the row's description)"
        )
    if label.translated:
        fix = "shorten the translation"
    elif label.option:
        fix = "shorten it, and put the whole answer in the option's `text:`"
    else:
        fix = "shorten it"
    whose = "the translation" if label.translated else "the label"
    return (
        f"{app.channel} shows {these} {how}; in `{locale}` {whose} `{label.text}` is "
        f"{len(label.text)} characters: {fix}"
    )


def _media(
    found: Found,
    sources: _Sources,
    lesson: LoadedLesson,
    i: int,
    step: Step,
    apps: list[Capabilities],
) -> None:
    if not isinstance(step, MessageStep):
        return
    everywhere = sorted(frozenset.intersection(*(a.media for a in apps))) if apps else []
    for key, kind in MEDIA.items():
        if not getattr(step, key):
            continue
        for app in apps:
            if kind in app.media:
                continue
            where = _at(sources[lesson.path], ("steps", i, key))
            fix = (
                f"use a kind every app sends ({', '.join(everywhere)}), or say it in the text"
                if everywhere
                else "say it in the text"
            )
            found[(app.channel, kind, *where)] = Diagnostic(
                *where,
                Severity.ERROR,
                f"{app.channel} cannot send a {kind}, so learners there would not get this "
                f"`{key}:`: {fix}",
            )


def _given(where: tuple[str, int, int]) -> Callable[[], tuple[str, int, int]]:
    return lambda: where


def _at(src: Source, path: DataPath) -> tuple[str, int, int]:
    place = src.place_of(path)
    return (src.path, place.line + 1, place.col + 1) if place else (src.path, 1, 1)
