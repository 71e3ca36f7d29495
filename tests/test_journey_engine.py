"""The learner journey in the engine, without I/O: consent and profile, certificates, /stop,
/delete, /mydata, /verify, streaks and the resume point reminders use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.engine import Command, Context, LearnerState, Press, Say, Start, Text, advance
from bot.engine.outputs import Certify, Erase, ExportData, Track, Verify
from bot.engine.runtime import resume_point
from tests.test_engine import LIB, lesson_from, library_of, texts

CTX = Context(languages={"en": "English", "th": "ไทย"})


def labels(outputs: list[Any]) -> list[str]:
    return [b.label for o in outputs if isinstance(o, Say) for row in o.buttons for b in row]


def press(
    state: LearnerState, outputs: list[Any], label: str, ctx: Context = CTX
) -> tuple[LearnerState, list[Any]]:
    """Press the button labelled `label` in the last message that has it."""
    button = next(
        b
        for o in reversed(outputs)
        if isinstance(o, Say)
        for row in o.buttons
        for b in row
        if b.label == label
    )
    return advance(LIB, state, Press(button.token), ctx)


def test_deep_link_language_and_the_short_notice_lead_straight_into_the_course() -> None:
    state, out = advance(LIB, LearnerState(), Start("c"), CTX)
    assert labels(out) == ["English", "ไทย"]
    state, out = advance(LIB, state, Text("1"), CTX)  # typed number picks English
    assert state.onboarding == "notice" and "I keep your progress" in texts(out)[-1]
    assert labels(out) == ["▶️ Start learning", "More about this"]
    more, out = advance(LIB, state, Text("more"), CTX)  # the whole notice, on request
    assert "What we keep and why" in texts(out)[-1] and labels(out) == ["▶️ Start learning"]
    state, out = advance(LIB, state, Text("Indonesia"), CTX)  # not an answer on offer
    assert state.onboarding == "notice" and "Please tap" in texts(out)[-1]
    state, out = press(more, out, "▶️ Start learning")
    assert state.onboarding == "" and state.consent == "" and state.pending_course == ""
    assert state.position is not None and state.position.course == "c"  # the deep link


def test_the_profile_is_asked_after_the_first_lesson_with_consent() -> None:
    two = library_of(
        lesson_from({"id": "a", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
        lesson_from({"id": "b", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
    )
    state, out = advance(two, LearnerState(onboarding=""), Start("c"), CTX)  # a: done at once
    assert state.onboarding == "consent" and "a few quick questions" in texts(out)[-1]
    state, out = advance(two, state, Text("yes"), CTX)
    assert state.consent == "yes" and state.onboarding == "country"
    state, out = advance(two, state, Text("ID"), CTX)  # SourceTexts: country codes as names
    assert state.fields["country"] == "ID" and state.onboarding == "business"
    assert "Prefer not to say" in labels(out) and "⏭ Skip the other questions" in labels(out)
    assert labels(out)[:7] == [
        "Food and drinks", "Shop or reselling", "Crafts, clothes or beauty", "Services",
        "Farming or fishing", "Something else", "No business yet",
    ]  # fmt: skip
    for answer in ("1", "Woman", "25–35", "Prefer not to say"):
        state, out = advance(two, state, Text(answer), CTX)
    assert state.onboarding == "minority"
    state, out = advance(two, state, Text("no"), CTX)
    assert state.onboarding == ""
    assert {
        k: state.fields[k] for k in ("business", "gender", "age_group", "disability", "minority")
    } == {
        "business": "food",
        "gender": "woman",
        "age_group": "25-35",
        "disability": "skip",
        "minority": "no",
    }
    assert "Ready for the next lesson?" in texts(out)  # and on with the lessons


def test_the_age_bands_follow_the_youth_band_and_offer_no_children() -> None:
    state = LearnerState(onboarding="gender", consent="yes")
    state, out = advance(LIB, state, Press("p:gender=woman"), CTX)
    assert labels(out)[:4] == ["18–24", "25–35", "36–50", "51 or older"]
    assert "Under 15" not in labels(out)


def test_without_consent_no_profile_question_is_asked() -> None:
    two = library_of(
        lesson_from({"id": "a", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
        lesson_from({"id": "b", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
    )
    state, out = advance(two, LearnerState(onboarding=""), Start("c"), Context())
    state, out = press(state, out, "No, just the lessons", Context())
    assert state.consent == "no" and state.onboarding == ""
    assert "country" not in state.fields
    # An old profile button pressed later is refused, not stored.
    forged = advance(LIB, state, Press("p:gender=woman"), Context())[0]
    assert "gender" not in forged.fields
    # ...and the question is not asked again after the next lesson.
    state, out = advance(two, state, Text("1"), Context())
    assert state.onboarding == "" and not any("quick questions" in t for t in texts(out))


def test_skipping_the_rest_of_the_profile_still_learns() -> None:
    state, out = advance(LIB, LearnerState(onboarding="consent"), Start("c"), Context())
    state, out = press(state, out, "Yes, ask me", Context())
    state, out = press(state, out, "Prefer not to say", Context())  # country
    assert "country" not in state.fields and state.onboarding == "business"
    state, out = press(state, out, "⏭ Skip the other questions", Context())
    assert state.onboarding == "" and "business" not in state.fields


def finish_course(
    state: LearnerState, ctx: Context | None = None
) -> tuple[LearnerState, list[Any]]:
    state, _ = advance(LIB, state, Start("c"), ctx)
    state, _ = advance(LIB, state, Text("next"), ctx)
    return advance(LIB, state, Text("4"), ctx)


def test_finishing_a_course_asks_the_certificate_name_and_confirms_it() -> None:
    state = LearnerState(onboarding="", fields={"first_name": "Ana"})
    state, out = finish_course(state)
    assert Track("course_completed", "c", "") in out
    assert state.prompt.kind == "certificate:c" and labels(out)[-2:] == ["Ana", "Not now"]
    asked, out = advance(LIB, state, Text("  Ana   Maria  Santos "))
    assert not any(isinstance(o, Certify) for o in out)  # confirmed first
    assert texts(out)[-1] == "Print the name “Ana Maria Santos” on your certificate?"
    assert labels(out) == ["Yes", "Change"]
    assert Certify("c", "Ana Maria Santos") in advance(LIB, asked, Text("yes"))[1]
    assert Certify("c", "Ana Maria Santos") in press(asked, out, "Yes")[1]
    changed, out = press(asked, out, "Change")
    assert changed.prompt.kind == "certificate:c" and not any(isinstance(o, Certify) for o in out)
    confirm, out = press(
        state, finish_course(LearnerState(onboarding="", fields={"first_name": "Ana"}))[1], "Ana"
    )
    assert Certify("c", "Ana") in advance(LIB, confirm, Text("1"))[1]
    after, out = advance(LIB, state, Text("x" * 65))  # too long: asked again
    assert after.prompt.kind == "certificate:c" and not any(isinstance(o, Certify) for o in out)
    after, out = advance(LIB, state, Command("menu"))  # a command opens its own prompt
    assert after.prompt.kind == "" and "Our courses:" in texts(out)


def test_the_number_of_not_now_is_not_a_name() -> None:
    state, _ = finish_course(LearnerState(onboarding="", fields={"first_name": "Ana"}))
    after, out = advance(LIB, state, Text("2"))  # [1] Ana  [2] Not now
    assert not any(isinstance(o, Certify) for o in out) and after.prompt.kind != "print:c:2"
    assert "OK." in texts(out)


def test_stop_and_start_again() -> None:
    state = LearnerState(onboarding="")
    state, out = advance(LIB, state, Command("stop"))
    assert state.opted_out and "no more reminders" in texts(out)[0]
    state, out = advance(LIB, state, Command("start"))
    assert not state.opted_out and "on again" in texts(out)[0]


def test_delete_is_confirmed_by_tap_number_or_word_and_cancelled_by_anything_else() -> None:
    state = LearnerState(onboarding="")
    asked, out = advance(LIB, state, Command("delete"))
    assert asked.prompt.kind == "delete"
    assert Erase() in press(asked, out, "Yes, erase everything")[1]
    assert Erase() in advance(LIB, asked, Text("1"))[1]
    assert Erase() in advance(LIB, asked, Text("yes"))[1]
    kept = press(asked, out, "No, keep it")[1]
    assert Erase() not in kept and "Nothing was erased." in texts(kept)
    typed = advance(LIB, asked, Text("hmm what"))[1]
    assert Erase() not in typed and "Nothing was erased." in texts(typed)
    # The same button on a later message, when nobody asked, is stale.
    assert Erase() not in advance(LIB, state, Press("q:erase"))[1]


def test_mydata_and_verify_become_actions() -> None:
    state = LearnerState(onboarding="")
    assert ExportData() in advance(LIB, state, Command("mydata"))[1]
    assert Verify("K7Q2-9XPM") in advance(LIB, state, Command("verify", " k7q2-9xpm "))[1]
    _, out = advance(LIB, state, Command("verify"))
    assert "followed by the code" in texts(out)[0]


def test_streak_counts_local_days_in_a_row() -> None:
    # 23:30 UTC is already the next day in Jakarta (UTC+7).
    night = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    state = LearnerState(onboarding="", fields={"country": "ID"})
    for day in range(3):
        state, _ = advance(LIB, state, Command("menu"), Context(now=night + timedelta(days=day)))
    assert state.streak == 3 and state.streak_day == "2026-11-23"
    state, _ = advance(LIB, state, Command("menu"), Context(now=night + timedelta(days=2, hours=1)))
    assert state.streak == 3  # same day
    state, _ = advance(LIB, state, Command("progress"), Context(now=night + timedelta(days=5)))
    assert state.streak == 1  # a gap starts again


def test_progress_shows_quiz_scores_and_streak() -> None:
    day = Context(now=datetime(2099, 1, 2, 5, tzinfo=UTC))  # 2 January in Bangkok time
    state, _ = finish_course(LearnerState(onboarding="", streak=4, streak_day="2099-01-01"), day)
    _, out = advance(LIB, state, Command("progress"), day)
    assert "C: 1/1 · quiz 1/1 🎓" in texts(out)[0] and "5 days in a row" in texts(out)[0]


def test_resume_point_is_the_lesson_to_go_on_with() -> None:
    two = library_of(
        lesson_from({"id": "a", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
        lesson_from({"id": "b", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
    )
    fresh = LearnerState(onboarding="", consent="no")
    assert resume_point(two, fresh) is None
    state, _ = advance(two, fresh, Start("c"))  # lesson a has only an end: done at once
    assert resume_point(two, state) == "c/b"
    state, _ = advance(two, state, Text("1"))  # the next-lesson button
    assert resume_point(two, state) is None  # course finished


def test_certificate_command_claims_one_later_or_says_what_to_do() -> None:
    _, out = advance(LIB, LearnerState(onboarding=""), Command("certificate"))
    assert "Finish a course to get its certificate" in texts(out)[0]
    finished = LearnerState(
        onboarding="", fields={"first_name": "Ana"}, completed=frozenset({"c/l"})
    )
    asked, out = advance(LIB, finished, Command("certificate"))
    assert asked.prompt.kind == "certificate:c" and labels(out) == ["Ana", "Not now"]
    confirm, _ = advance(LIB, asked, Text("Ana Santos"))
    assert Certify("c", "Ana Santos") in advance(LIB, confirm, Text("yes"))[1]


def test_a_stale_button_at_the_notice_asks_the_notice_again() -> None:
    state, _ = advance(LIB, LearnerState(onboarding="notice"), Start(), Context())
    after, out = advance(LIB, state, Press("q:erase"), Context())
    assert after.onboarding == "notice" and "earlier message" in texts(out)[0]
    assert "I keep your progress" in texts(out)[-1]


def test_a_channels_country_guess_is_offered_first_and_never_assumed() -> None:
    two = library_of(
        lesson_from({"id": "a", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
        lesson_from({"id": "b", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
    )
    guessed = Context(languages=CTX.languages, country_hint="ID")
    state, out = advance(two, LearnerState(onboarding=""), Start("c"), guessed)
    state, out = advance(two, state, Text("yes"), guessed)  # consent
    assert state.onboarding == "country" and "Is your business in ID?" in texts(out)[-1]
    assert labels(out) == ["ID", "Another country", "Prefer not to say"]
    assert "country" not in state.fields  # only offered
    confirmed, _ = advance(two, state, Text("yes"), guessed)  # the guess means "yes"
    assert confirmed.fields["country"] == "ID" and confirmed.onboarding == "business"
    state, out = advance(two, state, Text("Another country"), guessed)
    assert state.onboarding == "country" and "Which country" in texts(out)[-1]
    assert len(labels(out)) == 11  # the ten members and "Prefer not to say"
    state, out = advance(two, state, Text("MY"), guessed)
    assert state.fields["country"] == "MY" and state.onboarding == "business"


def test_no_guess_from_a_channel_that_cannot_tell() -> None:
    two = library_of(
        lesson_from({"id": "a", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
        lesson_from({"id": "b", "steps": [{"id": "e", "type": "end", "text": "x"}]}),
    )
    state, out = advance(two, LearnerState(onboarding=""), Start("c"), CTX)
    state, out = advance(two, state, Text("yes"), CTX)
    assert "Which country" in texts(out)[-1] and len(labels(out)) == 11
