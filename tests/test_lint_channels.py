"""Lint checks every lesson against every app in `CHANNELS`, in every locale.

The apps' capabilities decide: a choice an app shows as buttons, or as a list, and cuts there is
a warning on the label (on the `.po` line for a translation); media an app cannot send is an
error. Apps are swapped in with monkeypatch to show that none is named in the check itself.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import pytest
import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.channels import capabilities
from bot.channels.capabilities import TELEGRAM, WHATSAPP, Capabilities
from bot.content import Diagnostic, Severity
from bot.lint import lint, lint_paths
from tests.test_lint_rules import (
    COURSE,
    At,
    before_last_step,
    copy_lessons,
    lesson_file,
    message,
    question,
)

ROOT = Path(__file__).resolve().parents[1]
ERROR, WARNING = Severity.ERROR, Severity.WARNING
LONG = "The second answer, in full"  # 26: over a WhatsApp list row (24), within Telegram's 40


@dataclass(frozen=True)
class ButtonsWhateverTheLength(Capabilities):
    """An app that shows up to `buttons` choices as buttons however long, and cuts them."""

    def form(self, options: int, longest: int) -> Literal["buttons", "list", "numbered"]:
        return "buttons" if 0 < options <= self.buttons else "numbered"


def like(
    base: Capabilities, kind: type[Capabilities] = Capabilities, **changes: object
) -> Capabilities:
    values = {f.name: getattr(base, f.name) for f in fields(base)} | changes
    return kind(**values)  # type: ignore[arg-type]


def with_question(tmp_path: Path, label: str = LONG) -> tuple[Path, Path, str]:
    """A copy of the lessons with a two-choice question whose second label is `label`."""
    root = copy_lessons(tmp_path)
    target = lesson_file(root / COURSE)
    text = before_last_step(question().replace("label: The second", f"label: {label}"))(
        target.read_text(encoding="utf-8")
    )
    target.write_text(text, encoding="utf-8")
    return root, target, text


def context_of(target: Path, step: str, option: str | None) -> str:
    lesson = yaml.safe_load(target.read_text(encoding="utf-8"))["id"]
    tail = f"options/{option}/label" if option else "button"
    return f"{COURSE}/{lesson}/{step}/{tail}"


def catalog(tmp_path: Path, locale: str, entries: dict[str, tuple[str, str]]) -> tuple[Path, dict]:
    """locales/<locale>/LC_MESSAGES/lessons.po holding `entries` (context: (source, text));
    returns its path and each context's line."""
    po = tmp_path / "locales" / locale / "LC_MESSAGES" / "lessons.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    cat = Catalog(locale=locale, domain="lessons")
    for context, (source, text) in entries.items():
        cat.add(source, text, context=context)
    with po.open("wb") as handle:
        write_po(handle, cat)
    with po.open("rb") as handle:
        lines = {m.context: m.lineno for m in read_po(handle) if m.id}
    return po, lines


def at_label(found: list[Diagnostic], path: Path, line: int, col: int) -> list[Diagnostic]:
    return [d for d in found if Path(d.path) == path and (d.line, d.col) == (line, col)]


# -- the shipped content -------------------------------------------------------------------------


def test_the_shipped_content_is_clean_for_every_app_on_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "lint", "lessons", "locales", "templates"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "0 error(s), 0 warning(s)" in result.stderr


def test_scripts_check_lints_the_templates() -> None:
    lines = (ROOT / "scripts" / "check").read_text(encoding="utf-8").splitlines()
    lint_line = next(line for line in lines if line.startswith("run lessonbot lint"))
    assert lint_line.split()[3:] == ["lessons", "locales", "broadcasts", "templates"]


# -- labels in the source ------------------------------------------------------------------------


def test_a_label_cut_in_a_list_row_is_a_warning_naming_app_locale_label_and_length(
    tmp_path: Path,
) -> None:
    root, target, text = with_question(tmp_path)
    line, col = At(LONG).find(text)
    found = at_label(lint_paths([str(root)]), target, line, col)
    assert [(d.severity, d.message) for d in found] == [
        (
            WARNING,
            "whatsapp shows these 2 choices as a list, and cuts a row's label past 24 "
            "characters (the whole label shows only in the row's description); in `en` the "
            f"label `{LONG}` is 26 characters: shorten it, and put the whole answer in the "
            "option's `text:`",
        )
    ]
    assert at_label(lint_paths([str(target)]), target, line, col) == found  # the file alone


def test_every_app_in_channels_is_checked_and_buttons_cut_are_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    narrow = like(WHATSAPP, ButtonsWhateverTheLength, channel="narrow", label_chars=12)
    monkeypatch.setitem(capabilities.CHANNELS, "narrow", narrow)
    root, target, text = with_question(tmp_path, "The second one")  # 14
    found = at_label(lint_paths([str(root)]), target, *At("The second one").find(text))
    assert [d.message for d in found] == [
        "narrow shows these 2 choices as buttons, and cuts a button's label past 12 "
        "characters; in `en` the label `The second one` is 14 characters: shorten it, and "
        "put the whole answer in the option's `text:`"
    ]


def test_choices_shown_as_numbered_text_are_never_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typing_only = like(WHATSAPP, channel="typing", buttons=0, list_rows=0)
    monkeypatch.setattr(capabilities, "CHANNELS", {"typing": typing_only})
    root, target, text = with_question(tmp_path)
    assert at_label(lint_paths([str(root)]), target, *At(LONG).find(text)) == []


def test_a_label_past_telegrams_limit_is_one_error_not_also_a_warning(tmp_path: Path) -> None:
    label = "A much longer answer than any app shows whole"  # 45
    root, target, text = with_question(tmp_path, label)
    found = at_label(lint_paths([str(root)]), target, *At(label).find(text))
    assert [(d.severity, d.message) for d in found] == [
        (
            ERROR,
            "button label is 45 characters; Telegram cuts labels past 40: shorten it, and put "
            "the whole answer in the option's `text:`",
        )
    ]


def test_a_buttons_label_on_a_message_step_is_checked(tmp_path: Path) -> None:
    root = copy_lessons(tmp_path)
    target = lesson_file(root / COURSE)
    text = before_last_step(message("extra", "Look", "    button: Show me the whole thing now"))(
        target.read_text(encoding="utf-8")
    )
    target.write_text(text, encoding="utf-8")
    found = at_label(lint_paths([str(root)]), target, *At("Show me the whole thing now").find(text))
    assert len(found) == 1 and found[0].message.startswith("whatsapp shows this choice as a list")
    assert found[0].message.endswith("is 27 characters: shorten it")


# -- media ---------------------------------------------------------------------------------------


def test_media_an_app_cannot_send_is_an_error_at_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        capabilities.CHANNELS,
        "pictures",
        like(TELEGRAM, channel="pictures", media=frozenset({"photo"})),
    )
    root = copy_lessons(tmp_path)
    (root / COURSE / "media").mkdir(exist_ok=True)
    (root / COURSE / "media" / "guide.pdf").write_bytes(b"%PDF-1.4\n")
    target = lesson_file(root / COURSE)
    text = before_last_step(message("extra", "Read this", "    document: media/guide.pdf"))(
        target.read_text(encoding="utf-8")
    )
    target.write_text(text, encoding="utf-8")
    expected = Diagnostic(
        str(target),
        *At("document: media/guide.pdf", at="media/").find(text),
        ERROR,
        "pictures cannot send a document, so learners there would not get this `document:`: "
        "use a kind every app sends (photo), or say it in the text",
    )
    assert expected in lint_paths([str(root)])
    assert expected in lint_paths([str(target)])
    monkeypatch.delitem(capabilities.CHANNELS, "pictures")
    # The real apps without documents (LINE sends no files) are named too, and only they.
    named = {
        d.message.partition(" cannot send")[0]
        for d in lint_paths([str(root)])
        if "cannot send" in d.message
    }
    assert named == {c.channel for c in capabilities.CHANNELS.values() if "document" not in c.media}


# -- translations --------------------------------------------------------------------------------


def test_a_translated_label_cut_in_a_list_row_is_warned_about_at_its_po_line(
    tmp_path: Path,
) -> None:
    root, target, _ = with_question(tmp_path, "The second")
    context = context_of(target, "extra-quiz", "opt-b")
    thai = "ตัวเลือกที่สองซึ่งยาวมากเกินไปนะ"  # 32
    po, lines = catalog(tmp_path, "th", {context: ("The second", thai)})
    found, _ = lint([str(tmp_path / "locales")], str(root))
    assert [d for d in found if "shows" in d.message] == [
        Diagnostic(
            str(po),
            lines[context],
            1,
            WARNING,
            "whatsapp shows these 2 choices as a list, and cuts a row's label past 24 "
            f"characters (the whole label shows only in the row's description); in `th` the "
            f"translation `{thai}` is {len(thai)} characters: shorten the translation",
        )
    ]
    assert [d for d in lint([str(po)], str(root))[0] if "shows" in d.message] == [
        d for d in found if "shows" in d.message
    ]  # the one catalog alone


def test_a_translation_lint_rejects_is_not_also_checked_for_length(tmp_path: Path) -> None:
    root, target, _ = with_question(tmp_path, "The second")
    context = context_of(target, "extra-quiz", "opt-b")
    po, lines = catalog(tmp_path, "th", {context: ("The second", "<b>ตัวเลือกที่สองซึ่งยาวมาก</b>")})
    found = [d for d in lint([str(po)], str(root))[0] if d.line == lines[context]]
    assert [d.severity for d in found] == [ERROR]  # the HTML; the bot serves the English


def test_an_untranslated_label_too_long_is_reported_once_on_the_lesson(tmp_path: Path) -> None:
    root, target, text = with_question(tmp_path)
    other = context_of(target, "extra-quiz", "opt-a")
    catalog(tmp_path, "th", {other: ("The first", "ข้อแรก")})
    catalog(tmp_path, "vi", {other: ("The first", "Cái đầu")})
    found, _ = lint([str(root), str(tmp_path / "locales")], str(root))
    here = at_label(found, target, *At(LONG).find(text))
    assert [d.message.split(";")[1].split(" the label")[0] for d in here] == [" in `en`"]


def test_a_translation_that_makes_a_step_a_list_is_checked_in_that_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forms are per locale: a long translation can turn one locale's buttons into a list."""
    root, target, _ = with_question(tmp_path, "The second")
    first, second = (context_of(target, "extra-quiz", o) for o in ("opt-a", "opt-b"))
    po, lines = catalog(
        tmp_path,
        "vi",
        {first: ("The first", "Lựa chọn đầu tiên rất dài ạ"), second: ("The second", "Cái kia")},
    )
    found = [d for d in lint([str(po)], str(root))[0] if "shows" in d.message]
    assert [(d.line, d.message.split(" as ")[0]) for d in found] == [
        (lines[first], "whatsapp shows these 2 choices")
    ]
