"""What every part of one `advance` call shares: the state as it changes, the outputs so far,
and the helpers that put texts in the learner's language.

The runtime is split by subject (lessons in `runtime`, first contact in `onboarding`, the
learner's own data in `account`); each part extends this base, and `runtime._Run` joins them.
"""

from __future__ import annotations

from bot.content.library import Library, LoadedCourse, LoadedLesson
from bot.content.model import Step
from bot.content.text import render
from bot.engine.context import Context
from bot.engine.outputs import Button, Media, Output, Say
from bot.engine.state import LearnerState


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
        self, text: str, buttons: list[list[Button]] | None = None, media: Media | None = None
    ) -> None:
        rows = tuple(tuple(row) for row in buttons or () if row)
        self.outputs.append(Say(text, rows, media))

    # -- navigation, provided by the runtime -----------------------------------------------------

    def press(self, token: str) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def menu(self) -> None:
        raise NotImplementedError

    def open_course(self, course: LoadedCourse) -> None:
        raise NotImplementedError

    def stale(self) -> None:
        raise NotImplementedError
