"""One broken fixture per linter rule, each pinned to the exact line, column and severity.

Every case copies the shipped `lessons/` folder into a temporary directory, makes one precise
textual edit to a lesson file (or a `course.yaml`) and lints the copy. The expected position is
computed by finding the edited text in the mutated file, so the tests keep working when the
lesson wording changes, while still asserting exact numbers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.content import (
    Diagnostic,
    Library,
    LoadedCourse,
    LoadedLesson,
    Severity,
    load_library,
)
from bot.content.model import Course, Lesson
from bot.content.text import PLACEHOLDER_MAX_CHARS, TELEGRAM_TEXT_LIMIT
from bot.engine import LearnerState, Say, Start, Text, advance
from bot.lint import lint_paths

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "lessons"
COURSE = "online-safety"  # the course most fixtures break
COURSE_FILE = "course.yaml"

TextEdit = Callable[[str], str]
Edit = Callable[[str], str | bytes]  # bytes: to write what is not UTF-8


# -- locating text in a file ---------------------------------------------------------------------


@dataclass(frozen=True)
class At:
    """Where a diagnostic must point: the start of `at` inside the `nth` occurrence of `marker`.

    `nth=None` means the marker must occur exactly once. An empty marker means line 1, col 1.
    """

    marker: str = ""
    at: str = ""
    nth: int | None = None

    def find(self, text: str) -> tuple[int, int]:
        if not self.marker:
            return 1, 1
        starts = [m.start() for m in re.finditer(re.escape(self.marker), text)]
        assert starts, f"marker {self.marker!r} not in the mutated file"
        if self.nth is None:
            assert len(starts) == 1, f"marker {self.marker!r} occurs {len(starts)} times"
            start = starts[0]
        else:
            start = starts[self.nth]
        pos = start + (self.marker.index(self.at) if self.at else 0)
        return position(text, pos)


def position(text: str, pos: int) -> tuple[int, int]:
    """1-based (line, col) of character offset `pos`."""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


# -- edits ---------------------------------------------------------------------------------------


def _sub_once(pattern: str, repl: str, text: str) -> str:
    new, count = re.subn(pattern, lambda _: repl, text, flags=re.MULTILINE)
    assert count == 1, f"pattern {pattern!r} matched {count} times"
    return new


def set_top(key: str, value: str) -> TextEdit:
    """Replace the line of top-level `key:` with `key: value`."""
    return lambda text: _sub_once(rf"^{re.escape(key)}:.*$", f"{key}: {value}", text)


def after_top(key: str, lines: str) -> TextEdit:
    """Insert `lines` (each ending in a newline) after the line of top-level `key:`."""

    def edit(text: str) -> str:
        match = re.search(rf"^{re.escape(key)}:.*\n", text, flags=re.MULTILINE)
        assert match, key
        return text[: match.end()] + lines + text[match.end() :]

    return edit


def before_last_step(block: str) -> TextEdit:
    """Insert steps (YAML, list items indented by two spaces) just before the last step.

    The shipped last steps follow a step without `next:`, so inserted steps are reachable.
    """

    def edit(text: str) -> str:
        cut = text.rindex("\n  - id: ") + 1
        return text[:cut] + block.rstrip("\n") + "\n\n" + text[cut:]

    return edit


def in_last_step(old: str, new: str) -> TextEdit:
    """Replace the line `old` of the last step by `new`."""

    def edit(text: str) -> str:
        cut = text.rindex("\n  - id: ") + 1
        return text[:cut] + _sub_once(rf"^{re.escape(old)}$", new, text[cut:])

    return edit


def append(lines: str) -> TextEdit:
    return lambda text: text.rstrip("\n") + "\n" + lines


def replace_all(content: str | bytes) -> Edit:
    return lambda _text: content


def last_step_id(text: str) -> str:
    return str(yaml.safe_load(text)["steps"][-1]["id"])


def message(step_id: str, text: str, *extra: str) -> str:
    return "".join(
        f"{line}\n"
        for line in (f"  - id: {step_id}", "    type: message", f"    text: {text}", *extra)
    )


def block_message(step_id: str, *text_lines: str) -> str:
    """A message step whose text is a literal (`|`) block, as the shipped lessons write them."""
    body = "".join(f"      {line}\n" if line else "\n" for line in text_lines)
    return f"  - id: {step_id}\n    type: message\n    text: |\n{body}"


QUESTION = """\
  - id: extra-quiz
    type: question
    text: Which one?
    {options}:
      - id: opt-a
        label: The first
      - id: opt-b
        label: The second
{correct}"""


def question(options: str = "options", correct: str | None = "    correct: opt-b\n") -> str:
    return QUESTION.format(options=options, correct=correct or "")


def choice(*options: tuple[str, str]) -> str:
    lines = ["  - id: extra-choice", "    type: choice", "    text: Where to?", "    options:"]
    for opt_id, target in options:
        lines += [f"      - id: {opt_id}", f"        label: Option {opt_id}"]
        if target:
            lines.append(f"        {target}")
    return "".join(f"{line}\n" for line in lines)


def input_step(*extra: str) -> str:
    lines = [
        "  - id: extra-input",
        "    type: input",
        "    text: Which colour?",
        "    field: favourite_colour",
        *extra,
    ]
    return "".join(f"{line}\n" for line in lines)


def survey(*extra: str) -> str:
    lines = ["  - id: extra-survey", "    type: survey", "    text: How was it?", *extra]
    return "".join(f"{line}\n" for line in lines)


# -- fixtures ------------------------------------------------------------------------------------


def copy_lessons(tmp_path: Path) -> Path:
    root = tmp_path / "lessons"
    shutil.copytree(SHIPPED, root)
    return root


def lesson_file(course_dir: Path) -> Path:
    files = [p for p in sorted(course_dir.glob("*.yaml")) if p.name != COURSE_FILE]
    assert files, course_dir
    return files[0]


def lesson_ids(course_dir: Path) -> set[str]:
    """The ids of every lesson file of a course, however many it ships."""
    files = [p for p in course_dir.glob("*.yaml") if p.name != COURSE_FILE]
    return {str(yaml.safe_load(p.read_text(encoding="utf-8"))["id"]) for p in files}


def same_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def listing(found: list[Diagnostic]) -> str:
    return "diagnostics:\n" + "\n".join(f"  {d}" for d in found)


# -- the rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    edit: Edit
    at: At
    severity: Severity
    phrase: str  # a key part of the message
    target: str = "lesson"  # "lesson": the course's lesson file; "course": its course.yaml


ERROR, WARNING = Severity.ERROR, Severity.WARNING

LONG_RAW = "a" * 4000  # with three {first_name} placeholders: 4000 + 3 * (1 + 64) > 4096
LONG_TEXT = LONG_RAW + " {first_name}" * 3
LONG_LENGTH = len(LONG_RAW) + 3 * (1 + PLACEHOLDER_MAX_CHARS)

CASES = [
    # ---- reading the YAML -------------------------------------------------------------------
    Case(
        "yaml-syntax-error",
        set_top("title", "Spot the scam: a guide"),
        At("title: Spot the scam: a guide", at=": a guide"),
        ERROR,
        "YAML syntax error: mapping values are not allowed",
    ),
    Case(
        "yaml-tab-indent",
        before_last_step("  - id: extra\n    type: message\n\ttext: Tabbed\n"),
        At("\ttext: Tabbed"),
        ERROR,
        "use spaces, not tabs",
    ),
    Case(
        "duplicate-key",
        after_top("title", "title: A second title\n"),
        At("title: A second title"),
        ERROR,
        "duplicate key 'title' (first set on line",
    ),
    Case(
        "duplicate-key-in-step",
        before_last_step(message("extra", "Hello", "    text: Hello again")),
        At("    text: Hello again", at="text"),
        ERROR,
        "duplicate key 'text'",
    ),
    Case(
        "key-not-a-word",
        after_top("minutes", "[a, b]: c\n"),
        At("[a, b]: c"),
        ERROR,
        "a key must be a plain word",
    ),
    Case("empty-file", replace_all(""), At(), ERROR, "file is empty"),
    Case(
        "comments-only-file",
        replace_all("# yaml-language-server: $schema=x\n# nothing\n"),
        At(),
        ERROR,
        "file is empty",
    ),
    Case(
        "not-utf8",
        lambda text: text.encode().replace(b"title: ", b"title: \xff", 1),
        At("title: \udcff", at="\udcff"),
        ERROR,
        "file is not UTF-8",
    ),
    Case(
        "file-too-big",
        append(f"# {'x' * (512 * 1024)}\n"),
        At(),
        ERROR,
        "a content file must be under",
    ),
    Case(
        "python-tag",
        set_top("title", '!!python/object/apply:os.system ["echo hi"]'),
        At("title: !!python", at="!!python"),
        ERROR,
        "tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
    Case(
        "python-tag-on-key",
        after_top("minutes", "!!python/name:os.system run: 1\n"),
        At("!!python/name:os.system run", at="!!python"),
        ERROR,
        "tag 'tag:yaml.org,2002:python/name:os.system' is not allowed",
    ),
    Case(
        "yaml-unclosed-quote-at-end-of-file",
        set_top("description", '"Learn to spot'),
        At('description: "', at='"'),
        ERROR,
        "this quote is never closed",
        target="course",
    ),
    Case(
        "alias-bomb",
        after_top(
            "minutes",
            'lol-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
            + "".join(
                f"lol-{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n"
                for a, b in zip("abcdefgh", "bcdefghi", strict=True)
            ),
        ),
        At("lol-b: &b [*a", at="*a"),
        ERROR,
        "anchors and aliases (*name) are not allowed",
    ),
    Case(
        "not-a-mapping",
        replace_all("- version: 1\n- kind: lesson\n"),
        At(),
        ERROR,
        "the file must be a set of `key: value` lines",
    ),
    # ---- the schema ---------------------------------------------------------------------------
    Case(
        "version-too-new",
        set_top("version", "2"),
        At("version: 2", at="2"),
        ERROR,
        "upgrade LessonBot",
    ),
    Case(
        "unknown-key-did-you-mean",
        before_last_step(question(options="optoins")),
        At("    optoins:", at="optoins"),
        ERROR,
        "unknown key `optoins` (did you mean `options`?)",
    ),
    Case(
        "unknown-key-in-course",
        set_top("description", "x\ndescripton: Typo"),
        At("descripton: Typo"),
        ERROR,
        "unknown key `descripton` (did you mean `description`?)",
        target="course",
    ),
    Case(
        "wrong-type",
        set_top("minutes", "five"),
        At("minutes: five", at="five"),
        ERROR,
        "`minutes`: Input should be a valid integer",
    ),
    Case(
        "text-read-as-bool",
        before_last_step(message("extra", "yes")),
        At("text: yes", at="yes"),
        ERROR,
        "`text`: Input should be a valid string (YAML read this as true/false; put it in quotes",
    ),
    Case(
        "text-read-as-date",
        before_last_step(message("extra", "2024-01-01")),
        At("text: 2024-01-01", at="2024"),
        ERROR,
        "(YAML read this as a date; put it in quotes",
    ),
    Case(
        "button-read-as-number",
        before_last_step(message("extra", "Hi", "    button: 42")),
        At("button: 42", at="42"),
        ERROR,
        "(YAML read this as a number; put it in quotes",
    ),
    Case(
        "condition-read-as-bool",
        before_last_step(message("extra", "Hi", "    when: {country: NO}")),
        At("{country: NO}", at="NO"),
        ERROR,
        "(YAML read this as true/false; put it in quotes",
    ),
    Case(
        "number-out-of-range",
        set_top("minutes", "45"),
        At("minutes: 45", at="45"),
        ERROR,
        "`minutes`: Input should be less than or equal to 30",
    ),
    Case(
        "missing-field",
        before_last_step(question(correct=None)),
        At("  - id: extra-quiz", at="id:"),
        ERROR,
        "missing required key `correct:`",
    ),
    Case(
        "missing-top-level-field",
        lambda text: _sub_once(r"^minutes:.*\n", "", text),
        At("version: 1", at="version"),
        ERROR,
        "missing required key `minutes:`",
    ),
    Case(
        "missing-step-type",
        before_last_step("  - id: extra\n    text: Hello\n"),
        At("  - id: extra\n", at="id:"),
        ERROR,
        "this step needs `type:`",
    ),
    Case(
        "unknown-step-type",
        before_last_step("  - id: extra\n    type: mesage\n    text: Hi\n"),
        At("type: mesage", at="mesage"),
        ERROR,
        "unknown step type `mesage` (did you mean `message`?)",
    ),
    Case(
        "literal-mismatch",
        set_top("kind", "lessn"),
        At("kind: lessn", at="lessn"),
        ERROR,
        "`kind` must be 'lesson'",
    ),
    Case(
        "bad-id-pattern",
        before_last_step(message("Extra Step", "Hello")),
        At("id: Extra Step", at="Extra"),
        ERROR,
        "`Extra Step` is not valid here: use lower-case letters",
    ),
    Case(
        "bad-country-code",
        set_top("countries", "[ID, my]"),
        At("[ID, my]", at="my"),
        ERROR,
        "use a two-letter country code in capitals",
        target="course",
    ),
    # ---- steps and flow ---------------------------------------------------------------------
    Case(
        "duplicate-step-id",
        before_last_step(message("extra", "One") + message("extra", "Two")),
        At("  - id: extra\n", at="extra", nth=1),
        ERROR,
        "duplicate step id `extra`",
    ),
    Case(
        "next-to-unknown-step",
        before_last_step(message("extra", "Hello", "    next: nowhere")),
        At("next: nowhere", at="nowhere"),
        ERROR,
        "no step with id `nowhere` in this lesson",
    ),
    Case(
        "option-next-to-unknown-step",
        before_last_step(choice(("go-on", ""), ("go-off", "next: nowehre"))),
        At("next: nowehre", at="nowehre"),
        ERROR,
        "no step with id `nowehre`",
    ),
    Case(
        "option-lesson-unknown",
        before_last_step(choice(("stay", ""), ("away", "lesson: no-such-lesson"))),
        At("lesson: no-such-lesson", at="no-such-lesson"),
        ERROR,
        "no lesson `no-such-lesson`",
    ),
    Case(
        "option-lesson-unknown-other-course",
        before_last_step(choice(("stay", ""), ("away", "lesson: relief/no-such-lesson"))),
        At("lesson: relief/no-such-lesson", at="relief/"),
        ERROR,
        "no lesson `relief/no-such-lesson`",
    ),
    Case(
        "option-next-and-lesson",
        before_last_step(
            choice(("stay", ""), ("away", "next: extra-choice\n        lesson: relief/elsewhere"))
        ),
        At("lesson: relief/elsewhere", at="relief/"),
        ERROR,
        "an option goes to a step (`next:`) or a lesson (`lesson:`), not both",
    ),
    Case(
        "duplicate-option-id",
        before_last_step(
            question()
            .replace("- id: opt-b", "- id: opt-a")
            .replace("correct: opt-b", "correct: opt-a")
        ),
        At("      - id: opt-a\n", at="opt-a", nth=1),
        ERROR,
        "duplicate option id `opt-a`",
    ),
    Case(
        "quiz-correct-not-an-option",
        before_last_step(question(correct="    correct: opt-c\n")),
        At("correct: opt-c", at="opt-c"),
        ERROR,
        "the correct answer `opt-c` is not one of the options (opt-a, opt-b)",
    ),
    Case(
        "input-one-of-without-choices",
        before_last_step(input_step("    validate: one_of")),
        At("validate: one_of", at="one_of"),
        ERROR,
        "`validate: one_of` needs a `choices:` list",
    ),
    Case(
        "input-choices-without-one-of",
        before_last_step(input_step("    validate: text", "    choices: [red, blue]")),
        At("choices: [red, blue]", at="[red"),
        ERROR,
        "`choices:` only works with `validate: one_of`",
    ),
    Case(
        "survey-choice-without-options",
        before_last_step(survey("    kind: choice")),
        At("kind: choice", at="choice"),
        ERROR,
        "a `kind: choice` survey needs `options:`",
    ),
    Case(
        "survey-bad-scale",
        before_last_step(survey("    kind: scale", "    scale: {min: 5, max: 1}")),
        At("scale: {min: 5", at="{"),
        ERROR,
        "a scale needs min < max",
    ),
    Case(
        "survey-scale-on-text-kind",
        before_last_step(survey("    kind: text", "    scale: {min: 1, max: 4}")),
        At("scale: {min: 1, max: 4}", at="{"),
        ERROR,
        "`scale:` only works with `kind: scale`",
    ),
    Case(
        "last-step-not-end",
        in_last_step("    type: end", "    type: message"),
        At("    type: message\n", at="message", nth=-1),
        ERROR,
        "the last step must be `type: end` without `when:`",
    ),
    Case(
        "last-step-end-with-when",
        in_last_step("    type: end", "    type: end\n    when: {country: ID}"),
        At("    type: end\n    when", at="end"),
        ERROR,
        "the last step must be `type: end` without `when:`",
    ),
    Case(
        "unreachable-step",
        before_last_step(
            message("extra-a", "A", "    next: extra-c")
            + message("extra-b", "B")
            + message("extra-c", "C")
        ),
        At("  - id: extra-b", at="extra-b"),
        WARNING,
        "step `extra-b` can never be reached",
    ),
    Case(
        "loop-without-exit",
        lambda text: before_last_step(
            choice(("go-on", f"next: {last_step_id(text)}"), ("go-round", "next: loop-a"))
            + message("loop-a", "Round", "    next: loop-b")
            + message("loop-b", "And round", "    next: loop-a")
        )(text),
        At("  - id: loop-a", at="loop-a"),
        ERROR,
        "steps `loop-a`, `loop-b` form a loop with no way out",
    ),
    # ---- texts --------------------------------------------------------------------------------
    Case(
        "text-over-telegram-limit",
        before_last_step(message("extra", LONG_TEXT)),
        At(f"text: {LONG_RAW[:20]}", at=LONG_RAW[:20]),
        ERROR,
        f"text is {LONG_LENGTH} characters with placeholders filled; Telegram refuses more "
        f"than {TELEGRAM_TEXT_LIMIT}",
    ),
    Case(
        "text-over-phone-screen",
        before_last_step(message("extra", "b" * 800)),
        At("text: bbbb", at="bbbb"),
        WARNING,
        "text is 800 characters; over about 700 it no longer fits one phone screen",
    ),
    Case(
        "html-unclosed-tag",
        before_last_step(
            block_message("extra", "A fine first line.", "", "Then <b>bold that never ends.")
        ),
        At("<b>bold that never ends"),
        ERROR,
        "<b> is never closed; add </b>",
    ),
    Case(
        "html-unsupported-tag",
        before_last_step(
            block_message("extra", "A fine first line.", "Then <div>a box</div> here.")
        ),
        At("<div>a box"),
        ERROR,
        "<div> is not allowed; use",
    ),
    Case(
        "html-bare-ampersand",
        before_last_step(
            block_message("extra", "A fine first line.", "", "", "Tea & cake for everyone.")
        ),
        At("Tea & cake", at="&"),
        ERROR,
        "write &amp; for a literal '&'",
    ),
    Case(
        "html-bare-less-than",
        before_last_step(block_message("extra", "Prices < 5 dollars.")),
        At("Prices < 5", at="<"),
        ERROR,
        "write &lt; for a literal '<'",
    ),
    Case(
        "html-closing-tag-not-open",
        before_last_step(block_message("extra", "Some <b>bold</i> text.</b>")),
        At("bold</i>", at="</i>"),
        ERROR,
        "</i> closes a tag that is not open; expected </b>",
    ),
    Case(
        "html-link-without-href",
        before_last_step(block_message("extra", "A <a>link</a>.")),
        At("<a>link"),
        ERROR,
        "<a> needs a link",
    ),
    Case(
        "html-attribute-not-allowed",
        before_last_step(block_message("extra", 'A <b class="big">word</b>.')),
        At('<b class="big">'),
        ERROR,
        "<b> cannot have class",
    ),
    Case(
        "html-empty-tag",
        before_last_step(block_message("extra", "One line<br/>two lines.")),
        At("<br/>"),
        ERROR,
        "<br/> is not allowed; Telegram has no empty tags",
    ),
    Case(
        "html-in-plain-scalar",
        before_last_step(message("extra", "Fish & chips")),
        At("Fish & chips", at="&"),
        ERROR,
        "write &amp; for a literal '&'",
    ),
    Case(
        "html-in-double-quoted-scalar",
        before_last_step(message("extra", '"Fish & chips"')),
        At('"Fish & chips"', at="&"),
        ERROR,
        "write &amp; for a literal '&'",
    ),
    Case(
        "html-in-single-quoted-scalar-with-escapes",
        before_last_step(message("extra", "'It''s fish & chips'")),
        At("fish & chips", at="&"),
        ERROR,
        "write &amp; for a literal '&'",
    ),
    Case(
        "html-in-double-quoted-scalar-with-unicode-escape",
        before_last_step(message("extra", r'"Caf\u00e9 \x41 & bar"')),
        At("& bar"),
        ERROR,
        "write &amp; for a literal '&'",
    ),
    Case(
        "html-in-button-label",
        before_last_step(message("extra", "Look", "    button: Go <b>now</b>")),
        At("Go <b>now", at="<b>"),
        ERROR,
        "button labels are plain text; remove the HTML",
    ),
    Case(
        "entity-in-option-label",
        before_last_step(question().replace("label: The second", "label: Fish &amp; chips")),
        At("Fish &amp;", at="&amp;"),
        ERROR,
        "button labels are plain text; remove the HTML",
    ),
    Case(
        "option-label-cut-in-a-whatsapp-list",
        before_last_step(
            question().replace("label: The second", "label: The second answer, in full")
        ),
        At("The second answer, in full"),
        WARNING,
        "whatsapp shows these 2 choices as a list, and cuts a row's label past 24 characters "
        "(the whole label shows only in the row's description); in `en` the label `The second "
        "answer, in full` is 26 characters: shorten it, and put the whole answer in the "
        "option's `text:`",
    ),
    Case(
        "option-label-over-40",
        before_last_step(
            question().replace("label: The second", "label: " + "A very long answer, " * 3)
        ),
        At("A very long answer,", nth=0),
        ERROR,
        "button label is 59 characters; Telegram cuts labels past 40",
    ),
    Case(
        "button-label-cut-on-whatsapp",
        before_last_step(message("extra", "Look", "    button: Show me the whole thing now")),
        At("Show me the whole thing now"),
        WARNING,
        "whatsapp shows this choice as a list, and cuts a row's label past 24 characters (the "
        "whole label shows only in the row's description); in `en` the label `Show me the whole "
        "thing now` is 27 characters: shorten it",
    ),
    Case(
        "html-in-option-feedback",
        before_last_step(
            question().replace(
                "label: The second", "label: The second\n        feedback: Yes <i>sir"
            )
        ),
        At("Yes <i>sir", at="<i>"),
        ERROR,
        "<i> is never closed",
    ),
    Case(
        "unknown-placeholder-did-you-mean",
        before_last_step(block_message("extra", "Hello there,", "dear {frist_name}!")),
        At("{frist_name}"),
        ERROR,
        "unknown placeholder {frist_name} (did you mean {first_name}?)",
    ),
    Case(
        "placeholder-not-a-name",
        before_last_step(block_message("extra", "Hello {First Name}!")),
        At("{First Name}"),
        ERROR,
        "'{First Name}' is not a placeholder name",
    ),
    Case(
        "missing-media-image",
        before_last_step(message("extra", "Look", "    image: media/nope.jpg")),
        At("image: media/nope.jpg", at="media/"),
        ERROR,
        "media file `media/nope.jpg` not found",
    ),
    Case(
        "missing-media-document",
        before_last_step(message("extra", "Read", "    document: media/nope.pdf")),
        At("document: media/nope.pdf", at="media/"),
        ERROR,
        "media file `media/nope.pdf` not found",
    ),
    Case(
        "media-outside-course-relative",
        before_last_step(message("extra", "Look", "    image: ../relief/course.yaml")),
        At("image: ../", at="../"),
        ERROR,
        "media must be inside the course folder",
    ),
    # ---- the course -------------------------------------------------------------------------
    Case(
        "course-lists-missing-lesson",
        append("  - no-such-lesson\n"),
        At("  - no-such-lesson", at="no-such-lesson"),
        ERROR,
        "no lesson file in this folder has `id: no-such-lesson`",
        target="course",
    ),
    Case(
        "lesson-not-listed-in-course",
        set_top("id", "not-listed"),
        At("id: not-listed", at="not-listed"),
        WARNING,
        "lesson `not-listed` is not listed under `lessons:` in course.yaml",
    ),
]


def _mutate(case: Case, tmp_path: Path) -> tuple[Path, Path, str]:
    """Copy the shipped lessons, apply the case's edit; (course dir, edited file, its text)."""
    course_dir = copy_lessons(tmp_path) / COURSE
    target = lesson_file(course_dir) if case.target == "lesson" else course_dir / COURSE_FILE
    mutated = case.edit(target.read_text(encoding="utf-8"))
    raw = mutated if isinstance(mutated, bytes) else mutated.encode("utf-8")
    target.write_bytes(raw)
    return course_dir, target, raw.decode("utf-8", "surrogateescape")


def _the_one(found: list[Diagnostic], target: Path, phrase: str) -> Diagnostic:
    matches = [d for d in found if same_file(d.path, target) and phrase in d.message]
    assert len(matches) == 1, f"expected one diagnostic with {phrase!r}\n{listing(found)}"
    return matches[0]


def check_case(case: Case, tmp_path: Path) -> tuple[Diagnostic, Path]:
    course_dir, target, text = _mutate(case, tmp_path)
    line, col = case.at.find(text)
    found = lint_paths([str(course_dir)])
    got = _the_one(found, target, case.phrase)
    assert (got.line, got.col, got.severity) == (line, col, case.severity), listing(found)
    return got, target


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case, tmp_path: Path) -> None:
    got, target = check_case(case, tmp_path)
    # Linting the edited file alone reports the same problem, and only that file's problems.
    alone = lint_paths([str(target)])
    assert got in alone, listing(alone)
    assert all(same_file(d.path, target) for d in alone), listing(alone)


def test_shipped_lessons_are_clean() -> None:
    assert lint_paths([str(SHIPPED)]) == []


def test_copied_lessons_are_clean(tmp_path: Path) -> None:
    """The baseline every case starts from: an unedited copy has no problems at all."""
    assert lint_paths([str(copy_lessons(tmp_path))]) == []


def test_valid_jumps_are_clean(tmp_path: Path) -> None:
    """Positive control for the jump rules: a jump within the course and one to another course."""
    root = copy_lessons(tmp_path)
    other = yaml.safe_load(lesson_file(root / "relief").read_text(encoding="utf-8"))["id"]
    target = lesson_file(root / COURSE)
    text = target.read_text(encoding="utf-8")
    own = yaml.safe_load(text)["id"]
    target.write_text(
        before_last_step(
            choice(("stay", ""), ("here", f"lesson: {own}"), ("there", f"lesson: relief/{other}"))
        )(text),
        encoding="utf-8",
    )
    assert lint_paths([str(root / COURSE)]) == []


def test_python_tag_is_refused_and_not_run(tmp_path: Path) -> None:
    witness = tmp_path / "pwned"
    case = Case(
        "python-tag-runs-nothing",
        set_top("title", f'!!python/object/apply:os.system ["touch {witness}"]'),
        At("title: !!python", at="!!python"),
        ERROR,
        "is not allowed",
    )
    check_case(case, tmp_path)
    assert not witness.exists()


def test_alias_bomb_is_refused_with_an_error(tmp_path: Path) -> None:
    bomb = next(c for c in CASES if c.id == "alias-bomb")
    got, _ = check_case(bomb, tmp_path)
    assert got.severity is Severity.ERROR


# -- positions and reports that used to be wrong ----------------------------------------------


BUGGY = [
    pytest.param(
        Case(
            "loop-on-the-only-path",
            before_last_step(
                message("loop-a", "Round", "    next: loop-b")
                + message("loop-b", "And round", "    next: loop-a")
            ),
            At("  - id: loop-a", at="loop-a"),
            ERROR,
            "form a loop with no way out",
        ),
        id="loop-on-the-only-path",
    ),
    pytest.param(
        Case(
            "unclosed-quote",
            set_top("title", '"Spot the scam'),
            At('title: "Spot', at='"'),
            ERROR,
            "YAML syntax error",
        ),
        id="yaml-unclosed-quote",
    ),
    pytest.param(
        Case(
            "quoted-with-escapes",
            before_last_step(message("extra", r'"Say \"hi\" & bye"')),
            At(r"\"hi\" & bye", at="&"),
            ERROR,
            "write &amp; for a literal '&'",
        ),
        id="html-in-quoted-scalar-with-escapes",
    ),
    pytest.param(
        Case(
            "bad-when-key",
            before_last_step(message("extra", "Hi", "    when: {Country: ID}")),
            At("{Country: ID}", at="Country"),
            ERROR,
            "`Country` is not valid here",
        ),
        id="bad-when-field-name",
    ),
    pytest.param(
        Case(
            "media-outside-course",
            before_last_step(message("extra", "Look", f"    document: {ROOT / 'pyproject.toml'}")),
            At("    document: /", at="/"),
            ERROR,
            "course folder",
        ),
        id="media-path-outside-course-folder",
    ),
]


@pytest.mark.parametrize("case", BUGGY)
def test_rule_position_we_expect(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)


def test_less_than_before_a_letter(tmp_path: Path) -> None:
    check_case(
        Case(
            "lt-before-letter",
            before_last_step(block_message("extra", "Fine.", "Is a<b true?")),
            At("a<b true", at="<"),
            ERROR,
            "write &lt; for a literal '<'",
        ),
        tmp_path,
    )


def test_control_character_is_pointed_at(tmp_path: Path) -> None:
    """Found by the fuzz test: PyYAML refuses such a character before parsing starts."""
    check_case(
        Case(
            "control-character",
            before_last_step(message("extra", "Ring\x07 the bell")),
            At("Ring\x07", at="\x07"),
            ERROR,
            "character U+0007 is not allowed here",
        ),
        tmp_path,
    )


@pytest.mark.parametrize(
    "case_id",
    [
        "yaml-syntax-error",
        "empty-file",
        "not-utf8",
        "alias-bomb",
        "python-tag",
        "python-tag-on-key",
    ],
)
def test_unreadable_file_gets_one_error(case_id: str, tmp_path: Path) -> None:
    got, target = check_case(next(c for c in CASES if c.id == case_id), tmp_path)
    alone = lint_paths([str(target)])
    assert alone == [got], listing(alone)


def test_course_folder_without_course_file_is_reported(tmp_path: Path) -> None:
    root = copy_lessons(tmp_path)
    (root / "relief" / COURSE_FILE).rename(root / "relief" / "course.yml")
    assert any("relief" in d.path for d in lint_paths([str(root)]))


def test_folder_without_course_file_points_at_its_first_yaml_file(tmp_path: Path) -> None:
    root = copy_lessons(tmp_path)
    (root / "relief" / COURSE_FILE).unlink()
    found = lint_paths([str(root)])
    assert found == [
        Diagnostic(
            str(lesson_file(root / "relief")),
            1,
            1,
            ERROR,
            "no course.yaml in this folder, so these lessons are ignored; "
            "add one (see docs/lesson-format.md)",
        )
    ], listing(found)


def test_yml_lesson_file_is_warned_about(tmp_path: Path) -> None:
    root = copy_lessons(tmp_path)
    lesson = lesson_file(root / COURSE)
    renamed = lesson.with_suffix(".yml")
    lesson.rename(renamed)
    found = lint_paths([str(root)])
    assert (
        Diagnostic(str(renamed), 1, 1, WARNING, "rename to .yaml; .yml files are not read") in found
    ), listing(found)


def test_missing_folder_names_both_ways_to_fix_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    # The path may come from the command line or from LESSONS_DIR, so the fix names both.
    assert lint_paths([str(missing)]) == [
        Diagnostic(
            str(missing),
            1,
            1,
            ERROR,
            "no such folder; name an existing folder, or set LESSONS_DIR (LOCALES_DIR for "
            "catalogs) "
            "to yours",
        )
    ]


def test_a_folder_with_nothing_to_check_is_an_error(tmp_path: Path) -> None:
    assert lint_paths([str(tmp_path)]) == [
        Diagnostic(
            str(tmp_path),
            1,
            1,
            ERROR,
            "nothing to check here: no folder with a course.yaml (see docs/lesson-format.md)",
        )
    ]


def test_value_fitting_no_member_of_a_union_gets_one_error(tmp_path: Path) -> None:
    """`country: NO` is a bool to YAML; `str | list[str]` must not report it twice."""
    case = next(c for c in CASES if c.id == "condition-read-as-bool")
    got, target = check_case(case, tmp_path)
    alone = lint_paths([str(target)])
    assert [d for d in alone if (d.line, d.col) == (got.line, got.col)] == [got], listing(alone)


def test_plain_text_label_may_hold_ampersand_and_less_than(tmp_path: Path) -> None:
    """A label is plain text, so `&` and `<` in it are fine (in a message they would not be)."""
    root = copy_lessons(tmp_path)
    target = lesson_file(root / COURSE)
    edit = before_last_step(message("extra", "Look", "    button: Fish & chips < $5"))
    target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")
    assert lint_paths([str(root)]) == []


def test_labels_are_filled_unescaped_and_quoted_answers_escaped() -> None:
    lesson = Lesson.model_validate(
        {
            "version": 1,
            "kind": "lesson",
            "id": "l",
            "title": "L",
            "minutes": 1,
            "steps": [
                {"id": "hi", "type": "message", "text": "Hi", "button": "Go, {first_name}"},
                {
                    "id": "q",
                    "type": "question",
                    "text": "Which?",
                    "correct": "b",
                    "retry": False,
                    "options": [{"id": "a", "label": "Salt"}, {"id": "b", "label": "Fish & chips"}],
                },
                {"id": "end", "type": "end", "text": "Bye"},
            ],
        }
    )
    loaded = LoadedLesson.build("c", lesson, "lessons/c/01-l.yaml", b"l")
    course = Course.model_validate(
        {
            "version": 1,
            "kind": "course",
            "id": "c",
            "title": "C",
            "description": "d",
            "lessons": ["l"],
        }
    )
    library = Library((LoadedCourse(course, "lessons/c/course.yaml", (loaded,)),))

    learner = LearnerState(onboarding="", fields={"first_name": "Tom & Jerry"})
    state, outputs = advance(library, learner, Start("c"))
    labels = [b.label for o in outputs if isinstance(o, Say) for row in o.buttons for b in row]
    assert "Go, Tom & Jerry" in labels  # plain text: not "Tom &amp; Jerry"
    state, _ = advance(library, state, Text("1"))
    state, outputs = advance(library, state, Text("1"))  # wrong, and no retry: shows the answer
    said = " ".join(o.text for o in outputs if isinstance(o, Say))
    assert "Fish &amp; chips" in said  # quoted in an HTML message, so escaped there


# -- one broken file doesn't take the rest down --------------------------------------------------


def test_broken_files_do_not_stop_the_other_courses(tmp_path: Path) -> None:
    root = copy_lessons(tmp_path)
    broken = lesson_file(root / COURSE)
    broken.write_text(
        set_top("minutes", "five")(broken.read_text(encoding="utf-8")), encoding="utf-8"
    )
    relief_yaml = root / "relief" / COURSE_FILE  # a whole course whose course.yaml is broken
    relief_yaml.write_text(
        set_top("version", "2")(relief_yaml.read_text(encoding="utf-8")), encoding="utf-8"
    )

    library, problems = load_library(root)

    assert any(same_file(d.path, broken) and "`minutes`" in d.message for d in problems)
    assert any(same_file(d.path, relief_yaml) and "upgrade" in d.message for d in problems)
    assert library.course("relief") is None
    broken_id = yaml.safe_load(lesson_file(SHIPPED / COURSE).read_text(encoding="utf-8"))["id"]
    assert library.lesson(COURSE, broken_id) is None
    fine = library.course("digital-marketing")
    assert fine is not None
    assert {le.id for le in fine.lessons} == lesson_ids(root / "digital-marketing")
    fine_id = yaml.safe_load(lesson_file(root / "digital-marketing").read_text(encoding="utf-8"))
    assert library.lesson("digital-marketing", fine_id["id"]) is not None


def test_broken_lesson_does_not_stop_its_sibling_lessons(tmp_path: Path) -> None:
    root = copy_lessons(tmp_path)
    broken = lesson_file(root / COURSE)
    text = broken.read_text(encoding="utf-8")
    broken.with_name("02-sibling.yaml").write_text(set_top("id", "sibling")(text), encoding="utf-8")
    course_yaml = root / COURSE / COURSE_FILE
    course_yaml.write_text(
        append("  - sibling\n")(course_yaml.read_text(encoding="utf-8")), encoding="utf-8"
    )
    broken.write_text(set_top("minutes", "five")(text), encoding="utf-8")

    library, problems = load_library(root)

    assert any(same_file(d.path, broken) and "`minutes`" in d.message for d in problems)
    # The course file is fine: its lesson exists, it is just broken.
    assert not [d for d in problems if same_file(d.path, course_yaml)], listing(problems)
    safety = library.course(COURSE)
    assert safety is not None
    broken_id = yaml.safe_load(text)["id"]
    assert {le.id for le in safety.lessons} == lesson_ids(root / COURSE) - {broken_id}
    assert "sibling" in {le.id for le in safety.lessons}


def test_unreadable_lesson_does_not_stop_its_course(tmp_path: Path) -> None:
    """We can't tell which lesson an unreadable file held, so course.yaml only gets a warning."""
    root = copy_lessons(tmp_path)
    broken = lesson_file(root / COURSE)
    others = lesson_ids(root / COURSE) - {yaml.safe_load(broken.read_text(encoding="utf-8"))["id"]}
    broken.write_text("title: [unclosed\n", encoding="utf-8")
    library, problems = load_library(root)
    course_yaml = root / COURSE / COURSE_FILE
    assert all(d.severity is WARNING for d in problems if same_file(d.path, course_yaml))
    assert any(same_file(d.path, course_yaml) for d in problems), listing(problems)
    safety = library.course(COURSE)
    assert safety is not None and {le.id for le in safety.lessons} == others


# -- the command line ------------------------------------------------------------------------------

LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<msg>.*)$")


def run_lint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _broken_copy(tmp_path: Path) -> tuple[Path, Path, tuple[int, int]]:
    case = next(c for c in CASES if c.id == "wrong-type")
    course_dir, target, text = _mutate(case, tmp_path)
    return course_dir.parent, target, case.at.find(text)


def test_cli_reports_errors_and_exits_1(tmp_path: Path) -> None:
    root, target, (line, col) = _broken_copy(tmp_path)
    result = run_lint(str(root), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    rows = [LINE.match(row) for row in result.stdout.splitlines()]
    assert rows and all(rows), result.stdout
    assert any(
        m
        and same_file(m["path"], target)
        and (int(m["line"]), int(m["col"])) == (line, col)
        and m["sev"] == "error"
        and "minutes" in m["msg"]
        for m in rows
    ), result.stdout
    assert "error(s)" in result.stderr


def test_cli_exits_0_on_shipped_lessons(tmp_path: Path) -> None:
    result = run_lint(str(SHIPPED), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "0 error(s), 0 warning(s)" in result.stderr


def test_cli_json_format(tmp_path: Path) -> None:
    root, target, (line, col) = _broken_copy(tmp_path)
    result = run_lint("--format", "json", str(root), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    found = json.loads(result.stdout)
    assert isinstance(found, list) and found
    assert all(set(d) == {"path", "line", "col", "severity", "message"} for d in found)
    assert any(
        same_file(d["path"], target)
        and (d["line"], d["col"]) == (line, col)
        and d["severity"] == "error"
        and "minutes" in d["message"]
        for d in found
    ), found
    clean = run_lint("--format", "json", str(SHIPPED), cwd=tmp_path)
    assert clean.returncode == 0
    assert json.loads(clean.stdout) == []
