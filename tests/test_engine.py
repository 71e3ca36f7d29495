"""Engine behaviour without any I/O: stale and forged buttons, edits, retries, matching."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.content import Library, LoadedCourse, LoadedLesson
from bot.content.model import Lesson
from bot.engine import Command, LearnerState, Press, Progress, Say, Start, Text, advance
from bot.engine.matching import as_number, fold, match_label
from bot.engine.tokens import step_token


def lesson_from(data: dict[str, Any], course: str = "c") -> LoadedLesson:
    base = {"version": 1, "kind": "lesson", "id": "l", "title": "L", "minutes": 3}
    return LoadedLesson.build(
        course,
        Lesson.model_validate({**base, **data}),
        f"lessons/{course}/01-l.yaml",
        repr(data).encode(),
    )


def library_of(*lessons: LoadedLesson) -> Library:
    from bot.content.model import Course

    course = Course.model_validate(
        {
            "version": 1,
            "kind": "course",
            "id": "c",
            "title": "C",
            "description": "d",
            "lessons": [le.id for le in lessons],
        }
    )
    return Library((LoadedCourse(course, "lessons/c/course.yaml", lessons),))


QUIZ = lesson_from(
    {
        "steps": [
            {"id": "intro", "type": "message", "text": "Hello {first_name}"},
            {
                "id": "q",
                "type": "question",
                "text": "2+2?",
                "correct": "b",
                "retry": True,
                "options": [
                    {"id": "a", "label": "3", "feedback": "Count again."},
                    {"id": "b", "label": "4"},
                ],
            },
            {
                "id": "id-only",
                "type": "message",
                "text": "Indonesia tip",
                "when": {"country": "ID"},
            },
            {"id": "done", "type": "end", "text": "Bye"},
        ]
    }
)
LIB = library_of(QUIZ)


def texts(outputs: list[Any]) -> list[str]:
    return [o.text for o in outputs if isinstance(o, Say)]


def started() -> LearnerState:
    state, _ = advance(LIB, LearnerState(onboarding="", fields={"first_name": "Ana"}), Start("c"))
    return state


def test_start_opens_course_and_fills_placeholder() -> None:
    fresh = LearnerState(onboarding="", fields={"first_name": "<Ana>"})
    state, outputs = advance(LIB, fresh, Start("c"))
    assert "Hello &lt;Ana&gt;" in texts(outputs)  # learner text is escaped for HTML
    assert state.position is not None and state.position.step == "intro"
    assert Progress("c", "l", "started") in outputs


def test_wrong_answer_retries_then_counts_first_try_only() -> None:
    state, _ = advance(LIB, started(), Text("next"))
    state, outputs = advance(LIB, state, Text("1"))
    assert any("Count again." in t for t in texts(outputs))
    assert state.position is not None and state.position.step == "q"
    state, outputs = advance(LIB, state, Text("4"))
    assert state.position is None and "c/l" in state.completed  # skipped the ID-only step
    assert Progress("c", "l", "completed", score=0, total=1) in outputs


def test_condition_shows_step_to_matching_learner() -> None:
    state = replace(started(), fields={"first_name": "Ana", "country": "ID"})
    state, _ = advance(LIB, state, Text("next"))
    _, outputs = advance(LIB, state, Text("2"))
    assert "Indonesia tip" in texts(outputs)


def test_stale_button_reshows_current_step() -> None:
    state = started()
    old = step_token(QUIZ, "intro", "n")
    state, _ = advance(LIB, state, Press(old))
    assert state.position is not None and state.position.step == "q"
    again, outputs = advance(LIB, state, Press(old))  # the same press, replayed
    assert again == state
    assert any("earlier message" in t for t in texts(outputs))
    assert "2+2?" in texts(outputs)


@pytest.mark.parametrize(
    "token",
    [
        "o:xxxxxxxx:yyyy:b:zzzz",
        "garbage",
        "",
        "c:nope",
        "l:nope",
        "o::::",
        "g:xx",
        step_token(QUIZ, "done", "n"),  # a step the learner has not reached
    ],
)
def test_forged_button_never_moves_learner(token: str) -> None:
    state = started()
    after, outputs = advance(LIB, state, Press(token))
    assert after.position == state.position
    assert texts(outputs)


def test_content_edit_makes_old_buttons_stale() -> None:
    state = started()
    token = step_token(QUIZ, "intro", "n")
    edited = LoadedLesson.build("c", QUIZ.lesson, QUIZ.path, b"edited")
    after, outputs = advance(library_of(edited), state, Press(token))
    assert after.position is not None and after.position.step == "intro"
    assert any("earlier message" in t for t in texts(outputs))


def test_deleted_step_lands_on_nearest() -> None:
    state, _ = advance(LIB, started(), Text("next"))  # at "q", index 1
    shorter = lesson_from(
        {
            "steps": [
                {"id": "intro", "type": "message", "text": "Hello"},
                {"id": "new", "type": "message", "text": "Replacement"},
                {"id": "done", "type": "end", "text": "Bye"},
            ]
        }
    )
    after, outputs = advance(library_of(shorter), state, Command("continue"))
    assert after.position is not None and after.position.step == "new"
    assert "Replacement" in texts(outputs)


def test_deleted_lesson_goes_to_menu() -> None:
    state = started()
    other = lesson_from({"id": "other", "steps": [{"id": "e", "type": "end", "text": "x"}]})
    after, outputs = advance(library_of(other), state, Command("continue"))
    assert after.position is None
    assert any(o.buttons for o in outputs if isinstance(o, Say))


def test_deterministic() -> None:
    assert advance(LIB, started(), Text("next")) == advance(LIB, started(), Text("next"))


def test_unknown_command_and_help() -> None:
    _, outputs = advance(LIB, started(), Command("frobnicate"))
    assert any("/continue" in t for t in texts(outputs))


def test_input_validation_reprompts() -> None:
    lesson = lesson_from(
        {
            "steps": [
                {
                    "id": "phone",
                    "type": "input",
                    "text": "Phone?",
                    "field": "phone",
                    "validate": "phone",
                },
                {"id": "done", "type": "end", "text": "Saved {phone}"},
            ]
        }
    )
    lib = library_of(lesson)
    state, _ = advance(lib, LearnerState(onboarding=""), Start("c"))
    state, outputs = advance(lib, state, Text("call me"))
    assert state.position is not None and "phone number" in texts(outputs)[0]
    state, outputs = advance(lib, state, Text("+62 812-3456-7890"))
    assert state.fields["phone"] == "+6281234567890"
    assert "Saved +6281234567890" in texts(outputs)[0]


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("3", 3),
        ("３", 3),
        ("๓", 3),
        ("៣", 3),
        ("໓", 3),
        ("၃", 3),
        (" 2. ", 2),
        ("x", None),
    ],
)
def test_numbers_in_every_script(typed: str, number: int | None) -> None:
    assert as_number(typed) == number


@pytest.mark.parametrize(
    ("typed", "labels", "index"),
    [
        ("tiep tuc", ["Quay lại", "Tiếp tục"], 1),
        ("  SELANJUTNYA ", ["Selanjutnya"], 0),
        ("ต่อไป", ["ย้อนกลับ", "ต่อ ไป"], 1),
        ("ต่อไป", ["ตอไป"], None),  # Thai tone marks are part of the word
        ("ဆက်\u200bလုပ်ပါ", ["ဆက်လုပ်ပါ"], 0),  # a zero-width space from a Burmese keyboard
        ("បន្ត", ["បន្ត"], 0),
        ("ຕໍ່ໄປ", ["ຕໍ່ໄປ"], 0),
    ],
)
def test_label_matching(typed: str, labels: list[str], index: int | None) -> None:
    assert match_label(typed, labels) == index


def test_fold_keeps_non_latin_marks() -> None:
    assert fold("Café") == "cafe"
    assert fold("ก่") != fold("ก")
