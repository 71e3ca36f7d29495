"""The lesson runtime: `advance(library, state, event, ctx) -> (state, outputs)`. No I/O.

Every learner action comes in as an Event; what should happen comes out as Outputs (messages,
answers, progress, analytics) plus the learner's new state. The caller persists the state and
outputs in one transaction and then delivers the messages.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import PurePath

from bot.content.library import Library, LoadedCourse, LoadedLesson, digest
from bot.content.model import (
    ChoiceOption,
    ChoiceStep,
    EndStep,
    InputStep,
    MessageStep,
    Option,
    QuestionStep,
    Step,
    SurveyStep,
)
from bot.engine import tokens
from bot.engine.account import Account
from bot.engine.context import Context
from bot.engine.directory import Directory
from bot.engine.events import Command, Event, Press, Start, Text, Unsupported
from bot.engine.inputs import check_input, phone_example
from bot.engine.matching import fold
from bot.engine.onboarding import Onboarding
from bot.engine.outputs import Answer, Button, Media, Output, Progress, Say, Track
from bot.engine.prompt import Meaning, Prompt, resolve, words_of
from bot.engine.state import LearnerState, Paused, Position

MAX_TRIES = 2  # wrong answers to a question before the bot shows the right one


def advance(
    library: Library, state: LearnerState, event: Event, ctx: Context | None = None
) -> tuple[LearnerState, list[Output]]:
    run = _Run(library, state, ctx or Context())
    if not state.onboarding:
        run.count_day()
    if isinstance(event, Start):
        run.start(event.payload)
    elif isinstance(event, Command):
        run.command(event.name, event.arg)
    elif isinstance(event, Press):
        run.press(event.token)
    elif isinstance(event, Text):
        run.text(event.text)
    elif isinstance(event, Unsupported):
        run.say(
            run.t(
                "I can only read text and button presses. Please tap a button or type "
                "your answer. /continue shows where you are."
            )
        )
    return run.state, run.outputs


class _Run(Onboarding, Account, Directory):
    """One call of `advance`: the state as it changes, and the outputs so far."""

    # -- events --------------------------------------------------------------------------------

    def start(self, payload: str) -> None:
        course = self.lib.course(payload.strip()) if payload else None
        if self.state.onboarding:
            self.begin(course.id if course else "")
            return
        if self.state.opted_out:
            self.state = replace(self.state, opted_out=False)
            self.say(self.t("Reminders and news are on again. /stop turns them off."))
        if course is not None:
            self.open_course(course)
        else:
            self.say(self.t("Welcome back!"))
            self.resume()

    def command(self, name: str, arg: str) -> None:
        if name == "start":
            self.start(arg)
        elif name == "continue":
            self.resume()
        elif name == "menu":
            self.menu()
        elif name == "progress":
            self.progress()
        elif name == "language":
            self.ask_language()
        elif name == "country":
            self.ask_country()
        elif name == "schemes":
            self.schemes()
        elif name == "scammed":
            self.scammed()
        elif name == "stop":
            self.stop()
        elif name == "mydata":
            self.my_data()
        elif name == "delete":
            self.ask_delete()
        elif name == "verify":
            self.verify(arg)
        elif name == "certificate":
            self.claim_certificate()
        elif name == "help":
            self.help()
        else:
            self.say(self.t("I don't know that command."))
            self.help()

    def press(self, token: str) -> None:
        parsed = tokens.parse(token)
        if isinstance(parsed, tokens.StepPress):
            self.press_step(parsed)
        elif parsed is None:
            self.stale()
        elif parsed.kind == "m":
            self.command(parsed.value, "")
        elif parsed.kind == "g" and parsed.value in self.ctx.languages:
            self.set_language(parsed.value)
        elif parsed.kind == "k" and parsed.value == tokens.OTHER_COUNTRY:
            self.ask_country(guess=False)
        elif parsed.kind == "k" and (
            parsed.value in self.ctx.countries or parsed.value == tokens.NO_COUNTRY
        ):
            self.set_country(parsed.value)
        elif parsed.kind == "p":
            self.profile_answer(parsed.value)
        elif parsed.kind == "q" and self.state.onboarding == "notice":
            self.notice_reply(parsed.value)
        elif parsed.kind == "q":
            self.reply(parsed.value)
        elif parsed.kind == "s":
            self.scheme_details(parsed.value)
        else:
            found = self.lib.by_digest(parsed.value)
            if parsed.kind == "c" and isinstance(found, LoadedCourse):
                self.open_course(found)
            elif parsed.kind == "l" and isinstance(found, LoadedLesson):
                self.open_lesson(found)
            else:
                self.stale()

    def text(self, typed: str) -> None:
        """Typed text answers the prompt shown last, and nothing else."""
        prompt = self.state.prompt
        if not prompt.options and not prompt.kind:
            # Nothing asked yet (a state saved before prompts were kept): ask again.
            if self.state.onboarding:
                self.begin(self.state.pending_course)
            else:
                self.resume()
            return
        found = resolve(typed, prompt, self.typed_words())
        if found.one is not None:
            self.press(prompt.options[found.one].token)
        elif found.picked:
            picked = [prompt.options[i] for i in found.picked]
            self.say(
                self.t("Which one do you mean?"),
                [[c] for c in picked],
                ask=prompt.kind,
            )
        else:
            self.free_text(typed, prompt)

    def free_text(self, typed: str, prompt: Prompt) -> None:
        """Text that names no option: an answer where the prompt asked for one, else re-ask."""
        here = self.current() if prompt.kind == "step" else None
        step = here[0].steps[here[1]] if here else None
        if here and (
            isinstance(step, InputStep) or (isinstance(step, SurveyStep) and step.kind == "text")
        ):
            self.typed_answer(here[0], step, typed)
        elif prompt.kind.startswith("certificate:"):
            self.certificate_name(typed)
        elif prompt.kind == "delete":
            self.say(self.t("Nothing was erased."))
            self.resume()
        else:
            self.say(
                self.t("Please tap one of the buttons, or type its number."),
                [[c] for c in prompt.options],
            )
            self.state = replace(self.state, prompt=prompt)  # still the question it was

    # -- navigation ----------------------------------------------------------------------------

    def current(self) -> tuple[LoadedLesson, int] | None:
        """The learner's lesson and step, repaired if the content changed under them."""
        pos = self.state.position
        if pos is None:
            return None
        lesson = self.lib.lesson(pos.course, pos.lesson)
        if lesson is None:
            self.state = replace(self.state, position=None)
            return None
        index = lesson.index_of(pos.step)
        if index is None:
            # The step was deleted: go on from the step now at its old place.
            index = self.enter(lesson, min(pos.index, len(lesson.steps) - 1), show=False)
            if index is None:
                return None
        return lesson, index

    def resume(self) -> None:
        here = self.current()
        if here is not None:
            self.show(*here)
            return
        offer = self.next_lesson_buttons()
        if offer:
            self.say(
                self.t("Ready for the next lesson?"),
                [*offer, [Button(self.t("All courses"), tokens.menu_token("menu"))]],
            )
        else:
            self.menu()

    def next_lesson_buttons(self) -> list[list[Button]]:
        """A button for the lesson after the one finished last, if there is one."""
        done = self.state.last_lesson.split("/", 1)
        course = self.lib.course(done[0]) if len(done) == 2 else None
        following = course.after(done[1]) if course else None
        if following is None:
            return []
        return [[Button(f"▶️ {self.lesson_title(following)}", tokens.lesson_token(following))]]

    def open_course(self, course: LoadedCourse) -> None:
        pos = self.state.position
        if pos is not None and pos.course == course.id and self.current() is not None:
            self.resume()
            return
        saved = self.state.paused.get(course.id)
        if saved is not None and self.lib.lesson(course.id, saved.position.lesson) is not None:
            self.pause()  # the course open now keeps its place too
            paused = {k: v for k, v in self.state.paused.items() if k != course.id}
            self.state = replace(
                self.state,
                position=saved.position,
                score=saved.score,
                answered=saved.answered,
                paused=paused,
            )
            self.resume()
            return
        if not course.lessons:
            self.say(self.t("This course has no lessons yet."))
            self.menu()
            return
        if any(le.key in self.state.completed for le in course.lessons):
            self.course_screen(course)
        else:  # a course not begun opens on its first lesson: no extra screen on the way in
            self.open_lesson(course.lessons[0])

    def course_screen(self, course: LoadedCourse) -> None:
        """The course's lessons, ✅ for the finished ones and ▶️ for the next; any can be opened."""
        done = self.state.completed
        following = next((le for le in course.lessons if le.key not in done), None)
        rows = [
            [
                Button(
                    ("✅ " if le.key in done else "▶️ " if le is following else "")
                    + self.lesson_title(le),
                    tokens.lesson_token(le),
                )
            ]
            for le in course.lessons
        ]
        rows.append([Button(self.t("All courses"), tokens.menu_token("menu"))])
        title = html.escape(self.content_title(course))
        self.say(f"<b>{title}</b>\n" + self.t("Pick a lesson:"), rows)

    def pause(self) -> None:
        """Keep the open lesson's place under its course, before another course opens."""
        pos, state = self.state.position, self.state
        if pos is not None:
            where = Paused(pos, state.score, state.answered)
            self.state = replace(state, position=None, paused={**state.paused, pos.course: where})

    def open_lesson(self, lesson: LoadedLesson) -> None:
        pos = self.state.position
        if pos is not None and pos.lesson_key == lesson.key and self.current() is not None:
            self.resume()
            return
        if pos is not None and pos.course != lesson.course_id:
            self.pause()
        paused = {k: v for k, v in self.state.paused.items() if k != lesson.course_id}
        self.state = replace(self.state, score=0, answered=0, paused=paused)
        self.outputs.append(Progress(lesson.course_id, lesson.id, "started"))
        self.outputs.append(Track("lesson_started", lesson.course_id, lesson.id))
        minutes = self.t("{n} min").format(n=self.num(lesson.lesson.minutes))
        self.say(f"📘 <b>{html.escape(self.lesson_title(lesson))}</b> · {minutes}")
        self.enter(lesson, 0)

    def enter(self, lesson: LoadedLesson, index: int, *, show: bool = True) -> int | None:
        """Move to step `index`, skipping steps whose condition the learner doesn't meet.

        A skipped step was never shown, so its `next:` doesn't apply: the step below it comes.
        """
        while index < len(lesson.steps):
            step = lesson.steps[index]
            if step.when is None or self.matches(step.when):
                break
            index += 1
        if index >= len(lesson.steps):  # the linter prevents this; finish rather than hang
            self.complete(lesson, None)
            return None
        step = lesson.steps[index]
        self.state = replace(
            self.state,
            position=Position(lesson.course_id, lesson.id, step.id, index, lesson.version),
        )
        if isinstance(step, EndStep):
            self.complete(lesson, step)
            return None
        if show:
            self.outputs.append(Track("step_shown", lesson.course_id, lesson.id, step.id))
            self.show(lesson, index)
        return index

    def following(self, lesson: LoadedLesson, index: int) -> int:
        step = lesson.steps[index]
        if step.next is not None:
            target = lesson.index_of(step.next)
            return target if target is not None else len(lesson.steps)
        return index + 1

    def matches(self, condition: dict[str, str | list[str]]) -> bool:
        for name, wanted in condition.items():
            value = self.state.fields.get(name, "")
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if fold(value) not in {fold(str(a)) for a in allowed}:
                return False
        return True

    def complete(self, lesson: LoadedLesson, step: EndStep | None) -> None:
        state = self.state
        # A lesson done again keeps the score of its first time: that is what the quiz measures.
        this_time = (state.score, state.answered)
        first_time = lesson.key not in state.completed
        score, total = this_time if first_time else state.scores.get(lesson.key, this_time)
        self.outputs.append(Progress(lesson.course_id, lesson.id, "completed", score, total))
        self.outputs.append(
            Track(
                "lesson_completed",
                lesson.course_id,
                lesson.id,
                step.id if step else "",
                {"score": state.score, "total": state.answered},
            )
        )
        course = self.lib.course(lesson.course_id)
        # A survey (an unlisted course) is a detour, not a step of the learner's path: "next"
        # stays the lesson after the one they finished last.
        detour = course is not None and not course.course.listed
        self.state = replace(
            state,
            position=None,
            last_lesson=state.last_lesson if detour else lesson.key,
            completed=state.completed | {lesson.key},
            scores={**state.scores, lesson.key: (score, total)},
        )
        buttons = self.next_lesson_buttons() if detour or course is None else []
        following = None if detour or course is None else course.after(lesson.id)
        if following is not None:
            buttons.append(
                [Button(f"▶️ {self.lesson_title(following)}", tokens.lesson_token(following))]
            )
        buttons.append([Button(self.t("All courses"), tokens.menu_token("menu"))])
        text = self.content(lesson, step, "text", step.text) if step else self.t("Lesson done!")
        if state.answered:
            text += "\n\n" + self.t("Quiz: {score} of {total} right first time.").format(
                score=self.num(state.score), total=self.num(state.answered)
            )
        if (
            course is not None
            and course.course.listed
            and following is None
            and all(le.key in self.state.completed for le in course.lessons)
        ):
            text += "\n\n🎉 " + self.t("You finished the course “{course}”!").format(
                course=self.content_title(course)
            )
            self.say(text)
            self.course_finished(course)
        else:
            self.say(text, buttons)
            if not detour:  # after a lesson, not after a survey's questions
                self.offer_profile()

    # -- steps ---------------------------------------------------------------------------------

    def show(self, lesson: LoadedLesson, index: int) -> None:
        step = lesson.steps[index]
        media = None
        if isinstance(step, MessageStep) and (step.image or step.document):
            course_dir = PurePath(lesson.path).parent
            if step.image:
                media = Media("photo", str(course_dir / step.image))
            elif step.document:
                media = Media("document", str(course_dir / step.document))
        # A partner's recording of the step in the learner's language (docs/audio.md), for
        # learners who read little. It goes beside the text, never instead of it: on the
        # step's own message, or, where that carries a picture or a file, as a message of its
        # own just before. Not again when a question is asked again after a wrong try: the
        # clip is still just above in the chat, and every byte costs the learner.
        pos = self.state.position
        clip = lesson.clip(self.state.locale, step.id)
        if clip is not None and not (pos is not None and pos.step == step.id and pos.attempts):
            if media is None:
                media = Media("audio", clip)
            else:
                self.outputs.append(Say("", media=Media("audio", clip)))
        text = self.content(lesson, step, "text", step.text)
        options = getattr(step, "options", None) or ()
        if any(o.text for o in options):
            # The buttons carry short labels; the whole answers are listed, numbered, above.
            listed = [f"{n}. {self.answer_text(lesson, step, o)}" for n, o in enumerate(options, 1)]
            text += "\n\n" + "\n".join(listed)
        self.say(text, self.step_rows(lesson, step), media, ask="step")

    def answer_text(self, lesson: LoadedLesson, step: Step, option: Option | ChoiceOption) -> str:
        """An option's whole answer as message HTML: its `text`, or else its (plain) label."""
        if option.text:
            return self.content(lesson, step, f"options/{option.id}/text", option.text)
        label = self.content(lesson, step, f"options/{option.id}/label", option.label, escape=False)
        return html.escape(label, quote=False)

    def step_rows(self, lesson: LoadedLesson, step: Step) -> list[list[Button]]:
        buttons = self.step_buttons(lesson, step)
        # A scale fits on one row; options are long sentences, so one per row.
        if isinstance(step, SurveyStep) and step.kind == "scale":
            return [buttons]
        return [[b] for b in buttons]

    def option_keys(self, step: Step) -> list[str]:
        if isinstance(step, MessageStep):
            return [tokens.NEXT]
        if isinstance(step, SurveyStep) and step.kind == "scale" and step.scale is not None:
            return [str(v) for v in range(step.scale.min, step.scale.max + 1)]
        if isinstance(step, SurveyStep) and step.kind == "scale":
            return [str(v) for v in range(1, 6)]
        return [o.id for o in getattr(step, "options", None) or ()]

    def step_buttons(self, lesson: LoadedLesson, step: Step) -> list[Button]:
        keys = self.option_keys(step)
        if isinstance(step, MessageStep):
            labels = [
                self.content(lesson, step, "button", step.button, escape=False)
                if step.button
                else self.t("Next")
            ]
        elif isinstance(step, SurveyStep) and step.kind == "scale":
            labels = keys
        else:
            options = getattr(step, "options", None) or ()
            labels = [
                self.content(lesson, step, f"options/{o.id}/label", o.label, escape=False)
                for o in options
            ]
        means: Meaning = "next" if isinstance(step, MessageStep) else ""
        return [
            Button(label, tokens.step_token(lesson, step.id, key), means)
            for label, key in zip(labels, keys, strict=True)
        ]

    def press_step(self, press: tokens.StepPress) -> None:
        here = self.current()
        if here is None:
            self.stale()
            return
        lesson, index = here
        step = lesson.steps[index]
        if (
            press.lesson_digest != digest(lesson.key)
            or press.step_digest != tokens.step_digest(lesson, step.id)
            or press.version != lesson.version
            or press.option not in self.option_keys(step)
        ):
            self.stale()
            return
        self.choose(lesson, index, press.option)

    def choose(self, lesson: LoadedLesson, index: int, key: str) -> None:
        step = lesson.steps[index]
        if isinstance(step, QuestionStep):
            self.answer_question(lesson, index, step, key)
            return
        if isinstance(step, ChoiceStep | SurveyStep):
            self.record(lesson, step, key)
        if isinstance(step, ChoiceStep):
            option = next(o for o in step.options if o.id == key)
            if option.lesson is not None:
                self.jump(lesson, option.lesson)
                return
            if option.next is not None:
                self.enter(lesson, lesson.index_of(option.next) or 0)
                return
        self.enter(lesson, self.following(lesson, index))

    def jump(self, lesson: LoadedLesson, target: str) -> None:
        course_id, _, lesson_id = target.rpartition("/")
        found = self.lib.lesson(course_id or lesson.course_id, lesson_id)
        if found is None:
            self.say(self.t("That lesson is not available right now."))
            self.menu()
        else:
            self.state = replace(self.state, position=None)
            self.open_lesson(found)

    def answer_question(
        self, lesson: LoadedLesson, index: int, step: QuestionStep, key: str
    ) -> None:
        pos = self.state.position
        attempt = (pos.attempts if pos else 0) + 1
        option = next(o for o in step.options if o.id == key)
        correct = key == step.correct
        self.record(lesson, step, key, correct=correct, attempt=attempt)
        if attempt == 1:
            self.state = replace(
                self.state, answered=self.state.answered + 1, score=self.state.score + int(correct)
            )
        verdict = self.t("Correct!") if correct else self.t("Not quite.")
        parts = [("✅ " if correct else "❌ ") + verdict]
        if option.feedback:
            said = self.content(lesson, step, f"options/{key}/feedback", option.feedback)
            verdict_words = words_of(verdict)
            if words_of(said)[: len(verdict_words)] == verdict_words:  # said once is enough
                parts = [parts[0][:2] + said]
            else:
                parts.append(said)
        # After the second wrong try the answer is shown, so nobody loops on a question.
        again = not correct and step.retry and attempt < MAX_TRIES
        if step.feedback and not again:
            parts.append(self.content(lesson, step, "feedback", step.feedback))
        if again:
            parts.append(self.t("Try again:"))
            self.say("\n\n".join(parts))
            if pos is not None:
                self.state = replace(self.state, position=replace(pos, attempts=attempt))
            self.show(lesson, index)
            return
        if not correct:
            right = next(o for o in step.options if o.id == step.correct)
            # The option's text is a plain-text label; quoted in a message it must be escaped.
            answer = self.answer_text(lesson, step, right)
            parts.append(self.t("The answer is: {answer}").format(answer=answer))
        self.say("\n\n".join(parts))
        self.enter(lesson, self.following(lesson, index))

    def typed_answer(self, lesson: LoadedLesson, step: InputStep | SurveyStep, typed: str) -> None:
        index = lesson.index_of(step.id) or 0
        if isinstance(step, SurveyStep):
            value = " ".join(typed.split())[:1000]
            if not value:
                self.say(self.content(lesson, step, "text", step.text))
                return
            self.record(lesson, step, value)
            self.enter(lesson, self.following(lesson, index))
            return
        checked, problem = check_input(step, typed)
        if checked is None:
            message = (
                self.content(lesson, step, "error", step.error)
                if step.error
                else self.t(problem).format(
                    choices=", ".join(step.choices or ()),
                    example=phone_example(self.state.fields.get("country", ""), self.state.locale),
                )
            )
            self.say(message)
            return
        self.state = replace(self.state, fields={**self.state.fields, step.field: checked})
        self.record(lesson, step, checked, field=step.field)
        self.enter(lesson, self.following(lesson, index))

    def record(
        self,
        lesson: LoadedLesson,
        step: Step,
        value: str,
        *,
        correct: bool | None = None,
        attempt: int = 1,
        field: str | None = None,
    ) -> None:
        self.outputs.append(
            Answer(lesson.course_id, lesson.id, step.id, value, correct, attempt, field)
        )
        self.outputs.append(
            Track(
                "answer_given",
                lesson.course_id,
                lesson.id,
                step.id,
                {"correct": correct} if correct is not None else {},
            )
        )

    # -- menus ---------------------------------------------------------------------------------

    def stale(self) -> None:
        self.say(self.t("That button is from an earlier message. Here is where you are now:"))
        if self.state.onboarding:  # the open first-contact or profile question, asked again
            self.begin(self.state.pending_course)
        else:
            self.resume()

    def course_buttons(self) -> list[list[Button]]:
        rows = []
        for course in self.lib.listed_courses():
            done = sum(le.key in self.state.completed for le in course.lessons)
            mark = " ✅" if done and done == len(course.lessons) else ""
            label = (
                f"{self.content_title(course)} "
                f"({self.num(done)}/{self.num(len(course.lessons))}){mark}"
            )
            rows.append([Button(label, tokens.course_token(course.id))])
        return rows

    def menu(self) -> None:
        self.say(self.t("Our courses:"), self.course_buttons())

    def help(self) -> None:
        self.say(
            self.t(
                "Tap the buttons, or type the number of a button.\n"
                "/continue – go on where you left off\n"
                "/menu – all courses\n"
                "/progress – what you have done\n"
                "/language – change language\n"
                "/country – change country\n"
                "/schemes – government programmes we checked\n"
                "/scammed – help now if you are being scammed\n"
                "/mydata – everything we keep about you\n"
                "/delete – erase your data\n"
                "/stop – no more reminders\n"
                "/help – this message"
            ),
            [
                [Button(self.t("🆘 I'm being scammed"), tokens.menu_token("scammed"))],
                self.way_back(),
            ],
        )


def resume_point(library: Library, state: LearnerState) -> str | None:
    """The lesson ("course/lesson") a learner in the middle of a listed course would go on with.

    None when they are not mid-course: never started, or every started course is finished.
    Reminders go only to learners with a resume point.
    """
    pos = state.position
    if pos is not None:
        course = library.course(pos.course)
        return pos.lesson_key if course is not None and course.course.listed else None
    done = state.last_lesson.split("/", 1)
    course = library.course(done[0]) if len(done) == 2 else None
    if course is None or not course.course.listed:
        return None
    todo = [le for le in course.lessons if le.key not in state.completed]
    return todo[0].key if todo else None
