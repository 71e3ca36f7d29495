"""What every part of one `advance` call shares: the state as it changes, the outputs so far,
and the helpers that put texts in the learner's language.

The runtime is split by subject (lessons in `runtime`, first contact in `onboarding`, the
learner's own data in `account`); each part extends this base, and `runtime._Run` joins them.
"""

from __future__ import annotations

from dataclasses import replace

from bot.content.library import Library, LoadedCourse, LoadedLesson
from bot.content.model import Step
from bot.content.text import render
from bot.engine.context import N_, Context
from bot.engine.outputs import Button, Media, Output, Say
from bot.engine.prompt import Prompt
from bot.engine.state import LearnerState

# What learners type for yes, no and next, per locale: translators list their language's words
# after the colon, separated by commas. The English words count in every locale.
TYPED_WORDS = {
    "yes": N_("Words a learner may type for Yes, separated by commas: yes, y, yeah, yep, sure"),
    "no": N_("Words a learner may type for No, separated by commas: no, n, nope, not now"),
    "next": N_(
        "Words a learner may type for Next, separated by commas: next, ok, okay, continue, go on"
    ),
}


class Core:
    def __init__(self, library: Library, state: LearnerState, ctx: Context) -> None:
        self.lib = library
        self.state = state
        self.ctx = ctx
        self.outputs: list[Output] = []

    # -- texts ---------------------------------------------------------------------------------

    def t(self, message: str) -> str:
        return self.ctx.texts.ui(self.state.locale, message)

    def num(self, value: int) -> str:
        return self.ctx.texts.number(self.state.locale, value)

    def content(
        self, lesson: LoadedLesson, step: Step | None, key: str, source: str, *, escape: bool = True
    ) -> str:
        """A lesson text in the learner's language, placeholders filled.

        `escape=False` for button labels: Telegram shows them as plain text, not HTML.
        """
        where = f"{lesson.key}/{step.id}/{key}" if step else f"{lesson.key}/{key}"
        translated = self.ctx.texts.lesson(self.state.locale, where, source)
        return render(translated, dict(self.state.fields), escape=escape).strip()

    def lesson_title(self, lesson: LoadedLesson) -> str:
        return self.content(lesson, None, "title", lesson.lesson.title)

    def content_title(self, course: LoadedCourse) -> str:
        return self.ctx.texts.lesson(self.state.locale, f"{course.id}/title", course.course.title)

    def say(
        self,
        text: str,
        buttons: list[list[Button]] | None = None,
        media: Media | None = None,
        *,
        ask: str | None = None,
    ) -> None:
        """Say `text`. With buttons, or `ask` (who takes typed text), it becomes the prompt."""
        rows = tuple(tuple(row) for row in buttons or () if row)
        self.outputs.append(Say(text, rows, media))
        if rows or ask is not None:
            options = tuple(b for row in rows for b in row)
            self.state = replace(self.state, prompt=Prompt(text, options, ask or ""))

    def typed_words(self) -> dict[str, set[str]]:
        """The words that mean yes, no and next in the learner's locale (and in English)."""
        found = {}
        for meaning, message in TYPED_WORDS.items():
            said = {w.strip() for w in message.partition(":")[2].split(",")}
            listed = self.t(message)
            said |= {w.strip() for w in (listed.partition(":")[2] or listed).split(",")}
            found[meaning] = {w for w in said if w}
        return found

    # -- navigation, provided by the runtime -----------------------------------------------------

    def press(self, token: str) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def menu(self) -> None:
        raise NotImplementedError

    def open_course(self, course: LoadedCourse) -> None:
        raise NotImplementedError

    def open_lesson(self, lesson: LoadedLesson) -> None:
        raise NotImplementedError

    def stale(self) -> None:
        raise NotImplementedError

    def offer_profile(self) -> bool:
        raise NotImplementedError

    def country_buttons(self) -> list[list[Button]]:
        raise NotImplementedError
