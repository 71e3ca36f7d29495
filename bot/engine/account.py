"""The learner's own things: progress and streak, certificates, reminders on or off, and their
data (/mydata, /delete).

Whatever needs the database (making a certificate, looking one up, exporting, erasing) goes out
as an action output; the service carries it out in the same transaction.
"""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import date, timedelta

from bot.content.library import LoadedCourse, digest
from bot.engine import tokens
from bot.engine.core import Core
from bot.engine.outputs import Button, Certify, Erase, ExportData, Track, Verify
from bot.zones import local_day

NAME_LIMIT = 64  # characters of a name on a certificate


class Account(Core):
    # -- streak and progress -------------------------------------------------------------------

    def count_day(self) -> None:
        """Keep the streak: days in a row, in the learner's calendar, with some learning."""
        today = local_day(self.ctx.now, self.state.fields.get("country"))
        last = date.fromisoformat(self.state.streak_day) if self.state.streak_day else None
        if last == today:
            return
        streak = self.state.streak + 1 if last == today - timedelta(days=1) else 1
        self.state = replace(self.state, streak=streak, streak_day=today.isoformat())

    def progress(self) -> None:
        title = self.t("Your progress")
        lines = [f"<b>{title}</b>"]
        for course in self.lib.listed_courses():
            done = sum(le.key in self.state.completed for le in course.lessons)
            line = (
                f"{html.escape(self.content_title(course))}: "
                f"{self.num(done)}/{self.num(len(course.lessons))}"
            )
            scores = [self.state.scores.get(le.key, (0, 0)) for le in course.lessons]
            right, asked = sum(s[0] for s in scores), sum(s[1] for s in scores)
            if asked:
                line += " · " + self.t("quiz {score}/{total}").format(
                    score=self.num(right), total=self.num(asked)
                )
            if done == len(course.lessons):
                line += " 🎓"
            lines.append(line)
        pos = self.state.position
        if pos is not None and self.state.answered:
            lines.append(
                self.t("Quiz in this lesson: {score} of {total} right.").format(
                    score=self.num(self.state.score), total=self.num(self.state.answered)
                )
            )
        if self.state.streak > 1:
            lines.append(
                "🔥 "
                + self.t("{days} days in a row. Keep going!").format(
                    days=self.num(self.state.streak)
                )
            )
        self.say("\n".join(lines), [[Button(self.t("Continue"), tokens.menu_token("continue"))]])

    # -- certificates --------------------------------------------------------------------------

    def course_finished(self, course: LoadedCourse) -> None:
        """Congratulate, then ask the name to print on the certificate."""
        self.outputs.append(Track("course_completed", course.id, ""))
        self.ask_name(course.id)

    def ask_name(self, course_id: str) -> None:
        rows = []
        first_name = self.state.fields.get("first_name", "").strip()
        if first_name:
            rows.append([Button(first_name[:NAME_LIMIT], tokens.reply_token("first-name"))])
        rows.append([Button(self.t("Not now"), tokens.reply_token("no"), "no")])
        self.say(
            "🎓 "
            + self.t(
                "You get a certificate for this course. Type your name as it "
                "should appear on it, or tap your name below."
            ),
            rows,
            ask=f"certificate:{course_id}",
        )

    def claim_certificate(self) -> None:
        """/certificate: ask the name for a finished course's certificate, or send it again."""
        done = self.state.completed
        finished = [
            c
            for c in self.lib.listed_courses()
            if c.lessons and all(le.key in done for le in c.lessons)
        ]
        if len(finished) == 1:
            self.ask_name(finished[0].id)
        elif finished:
            self.say(
                self.t("Which course is the certificate for?"),
                [
                    [Button(self.content_title(c), tokens.reply_token(f"cert-{digest(c.id)}"))]
                    for c in finished
                ],
                ask="certificate-pick",
            )
        else:
            self.say(
                self.t("Finish a course to get its certificate. /progress shows how far you are.")
            )

    def certificate_name(self, typed: str) -> None:
        """A name typed (or tapped) for the certificate: confirm it before printing."""
        course_id = self.state.prompt.kind.partition(":")[2]
        name = " ".join(typed.split())
        if not name or len(name) > NAME_LIMIT:
            self.say(
                self.t("Please type a name of up to {n} letters, or tap “Not now”.").format(
                    n=self.num(NAME_LIMIT)
                ),
                [[Button(self.t("Not now"), tokens.reply_token("no"), "no")]],
                ask=self.state.prompt.kind,
            )
            return
        self.say(
            self.t("Print the name “{name}” on your certificate?").format(name=html.escape(name)),
            [
                [Button(self.t("Yes"), tokens.reply_token("print"), "yes")],
                [Button(self.t("Change"), tokens.reply_token("change"), "no")],
            ],
            ask=f"print:{course_id}:{name}",
        )

    # -- reminders and data --------------------------------------------------------------------

    def stop(self) -> None:
        self.state = replace(self.state, opted_out=True)
        self.say(
            self.t(
                "Done: no more reminders, surveys or news from us. Your progress is "
                "kept. Send /start to turn them on again."
            )
        )

    def verify(self, code: str) -> None:
        code = code.strip().upper()
        if not code:
            self.say(
                self.t(
                    "Send /verify followed by the code printed on the certificate, "
                    "for example: /verify K7Q2-9XPM"
                )
            )
        else:
            self.outputs.append(Verify(code[:32]))

    def my_data(self) -> None:
        self.outputs.append(ExportData())

    def ask_delete(self) -> None:
        self.say(
            self.t(
                "This erases your progress, answers, profile and certificates. It "
                "cannot be undone. We keep only counts that say nothing about you. "
                "Erase everything?"
            ),
            [
                [Button(self.t("Yes, erase everything"), tokens.reply_token("erase"), "yes")],
                [Button(self.t("No, keep it"), tokens.reply_token("no"), "no")],
            ],
            ask="delete",
        )

    def go_on(self) -> None:
        """After the certificate: the profile question if it is due, else where to go next."""
        if not self.offer_profile():
            self.resume()

    def reply(self, value: str) -> None:
        """A press of an answer to the question the prompt asked (certificate name, delete)."""
        asked, _, detail = self.state.prompt.kind.partition(":")
        if value == "no" and asked == "delete":
            self.say(self.t("Nothing was erased."))
            self.resume()
        elif value == "no" and asked in ("certificate", "print"):
            self.say(self.t("OK."))
            self.go_on()
        elif value == "erase" and asked == "delete":
            self.outputs.append(Erase())
        elif value == "first-name" and asked == "certificate":
            self.certificate_name(self.state.fields.get("first_name", ""))
        elif value == "print" and asked == "print":
            course_id, _, name = detail.partition(":")
            self.outputs.append(Certify(course_id, name))
            self.go_on()
        elif value == "change" and asked == "print":
            self.ask_name(detail.partition(":")[0])
        elif value.startswith("cert-") and asked == "certificate-pick":
            course = self.lib.by_digest(value.removeprefix("cert-"))
            if isinstance(course, LoadedCourse):
                self.ask_name(course.id)
            else:
                self.stale()
        else:
            self.stale()
