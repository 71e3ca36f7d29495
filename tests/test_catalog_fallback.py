"""A translation lint rejects is not served (issue #14): learners get the source text, the log
says so once per entry at its `.po` line, and lint keeps reporting it as an error.

Catalogs are built as the project builds them (tests/test_i18n.py: `pybabel extract` and
`init`, entries edited with Babel), and loaded both ways the bot loads them: compiled in
memory from the `.po`, and from a `.mo` built by `pybabel compile`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.content import Severity, load_library
from bot.engine import Context, LearnerState, Say, Start, advance
from bot.i18n import Catalogs
from bot.lint import lint
from tests.test_i18n import CTX, init_catalog, project, pybabel, translate

ROOT = Path(__file__).resolve().parent.parent
LOGGER = "bot.i18n.catalogs"
HELLO = "online-safety/spot-the-scam/hello/text"
MINUTES = "{n} min"

__all__ = ["project"]  # a fixture, used by name below


def set_entry(po: Path, msgid: str, text: str) -> int:
    """Translate the entry of `po` without context whose source is `msgid`; its line."""
    with po.open("rb") as handle:
        catalog = read_po(handle)
    catalog[msgid].string = text
    with po.open("wb") as handle:
        write_po(handle, catalog)
    with po.open("rb") as handle:
        return next(m.lineno for m in read_po(handle) if m.id == msgid and not m.context)


def source_of(po: Path, context: str) -> str:
    with po.open("rb") as handle:
        return str(next(m.id for m in read_po(handle) if m.context == context))


def lint_errors_at(po: Path, line: int, lessons: Path | None = None) -> list[str]:
    problems, _ = lint([str(po)], str(lessons) if lessons else None)
    return [d.message for d in problems if d.line == line and d.severity is Severity.ERROR]


def logged(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def refusal(po: Path, line: int, reasons: list[str]) -> str:
    return (
        f"{po}:{line}: {'; also '.join(reasons)}; learners see the source text instead until "
        f"it is fixed (run `lessonbot lint {po}`)"
    )


def says(outputs: list[object]) -> list[Say]:
    return [o for o in outputs if isinstance(o, Say)]


@pytest.mark.parametrize("compiled", [False, True], ids=["po", "mo"])
def test_an_unclosed_tag_in_a_thai_lesson_text_shows_the_english(
    project: Path, compiled: bool, caplog: pytest.LogCaptureFixture
) -> None:
    po = init_catalog(project, "th")
    broken = translate(po, HELLO, "สวัสดี {first_name}! <b>ระวังมิจฉาชีพ")  # <b> never closed
    translate(po, CTX, "ดูตัวอย่าง")
    if compiled:
        pybabel("compile", "-d", "locales", "-D", "lessons", cwd=project)
        assert po.with_suffix(".mo").exists()
    reasons = lint_errors_at(po, broken, project / "lessons")
    assert reasons == ["<b> is never closed; add </b>"]  # lint still says so
    library, _ = load_library(project / "lessons")
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    catalogs = Catalogs(project / "locales")
    for _ in range(3):  # every learner who opens the lesson
        state = LearnerState(locale="th", onboarding="", fields={"first_name": "Ana"})
        _, outputs = advance(
            library,
            state,
            Start("online-safety"),
            Context(texts=catalogs, languages=catalogs.languages()),
        )
        texts = [s.text for s in says(outputs)]
        english = source_of(po, HELLO).replace("{first_name}", "Ana").strip()
        assert any(english in t for t in texts) and not any("<b>ระวัง" in t for t in texts)
        labels = [b.label for s in says(outputs) for row in s.buttons for b in row]
        assert labels == ["ดูตัวอย่าง"]  # the good translation beside it is still served
    assert logged(caplog) == [refusal(po, broken, reasons)]  # once, with file:line and why
    # ...and not also as a missing translation, which it isn't.
    assert not [m for m in logged(caplog, logging.WARNING) if HELLO in m]


@pytest.mark.parametrize("compiled", [False, True], ids=["po", "mo"])
def test_a_renamed_placeholder_in_a_ui_text_shows_the_english(
    tmp_path: Path, compiled: bool, caplog: pytest.LogCaptureFixture
) -> None:
    locales = tmp_path / "locales"
    po = locales / "th" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    shutil.copy(ROOT / "locales" / "th" / "LC_MESSAGES" / "messages.po", po)
    broken = set_entry(po, MINUTES, "{m} นาที")
    if compiled:
        pybabel("compile", "-d", "locales", "-D", "messages", cwd=tmp_path)
        assert po.with_suffix(".mo").exists()
    reasons = lint_errors_at(po, broken)
    assert reasons == [
        "the translation has {m}, which the English doesn't; placeholder names must not be "
        "translated",
        "the translation lost the placeholder {n}; put it back (it can move within the sentence)",
    ]
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    catalogs = Catalogs(locales)
    library, _ = load_library(ROOT / "lessons")
    state = LearnerState(locale="th", onboarding="", fields={"first_name": "Ana"})
    # This used to raise KeyError('n') on every lesson opening: the learner got "Sorry".
    _, outputs = advance(
        library, state, Start("online-safety"), Context(texts=catalogs, languages=("en", "th"))
    )
    minutes = library.courses[0].lessons[0].lesson.minutes
    opening = next(s.text for s in says(outputs) if s.text.startswith("📘"))
    assert opening.endswith(f" · {minutes} min")
    assert catalogs.ui("th", MINUTES) == MINUTES
    with po.open("rb") as handle:
        other = next(m for m in read_po(handle) if m.id == "Lesson done!")
    assert other.string and catalogs.ui("th", str(other.id)) == other.string  # the rest: Thai
    assert logged(caplog) == [refusal(po, broken, reasons)]


def test_a_translation_with_only_warnings_is_still_shown(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    po = init_catalog(project, "id")
    line = translate(po, CTX, "Tunjukkan kepada saya dulu")  # 26 characters: a warning
    problems, _ = lint([str(po)], str(project / "lessons"))
    assert [str(d.severity) for d in problems if d.line == line] == ["warning"]
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    catalogs = Catalogs(project / "locales")
    assert catalogs.lesson("id", CTX, "Show me") == "Tunjukkan kepada saya dulu"
    assert logged(caplog) == []


def test_a_catalog_that_cannot_be_read_shows_the_source_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    po = tmp_path / "locales" / "th" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_bytes(
        b'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        b'msgid "{n} min"\nmsgstr "\xff\xfe {n}"\n'
    )
    problems, _ = lint([str(po)])
    assert [(d.line, str(d.severity)) for d in problems] == [(1, "error")]
    assert problems[0].message.startswith("cannot read this catalog")
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    catalogs = Catalogs(tmp_path / "locales")
    assert [catalogs.ui("th", MINUTES) for _ in range(3)] == [MINUTES] * 3
    [said] = logged(caplog)
    assert said.startswith(f"{po}: cannot read this catalog (")
    assert said.endswith(
        f"learners see the source text of all of it until it is fixed (run `lessonbot lint {po}`)"
    )
