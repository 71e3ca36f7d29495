"""The directories of real services: /schemes (government programmes, as short cards with a
Details button each) and /scammed (what to do now, and the country's reporting lines).

Both read the learner's country, and both end on a prompt with a way back to the lesson, so a
learner who looked something up mid-lesson can go on where they were.
"""

from __future__ import annotations

import html

from bot.content.model import Hotline, Scheme
from bot.engine import tokens
from bot.engine.core import Core
from bot.engine.outputs import Button

# The lesson /scammed offers for taking accounts back, as (course, lesson).
RECOVERY_LESSON = ("online-safety", "hacked-or-scammed")


class Directory(Core):
    def entry(self, where: str, entry: Scheme | Hotline, key: str) -> str:
        """A field of a directory entry in the learner's language, escaped; `where` is the
        directory's context, `course/kind/cc`."""
        context = f"{where}/{entry.id}/{key}"
        return html.escape(self.ctx.texts.lesson(self.state.locale, context, getattr(entry, key)))

    def checked(self, entry: Scheme | Hotline) -> str:
        return self.t("Checked on {date}. Source: {source}").format(
            date=self.ctx.texts.day(self.state.locale, entry.last_verified),
            source=html.escape(entry.source),
        )

    def way_back(self) -> list[Button]:
        """Back to the open lesson when there is one, else the course menu."""
        if self.state.position is not None:
            return [Button(self.t("Back to the lesson"), tokens.menu_token("continue"))]
        return [Button(self.t("All courses"), tokens.menu_token("menu"))]

    def ask_country_for(self, command: str) -> None:
        self.say(
            self.t("Which country? Tap yours, then send /{command} again.").format(command=command),
            self.country_buttons(),
        )

    def country_name(self, country: str) -> str:
        return html.escape(self.ctx.texts.country(self.state.locale, country))

    # -- /schemes --------------------------------------------------------------------------------

    def country_schemes(self, country: str) -> list[tuple[str, Scheme]]:
        """(directory context, programme) for every programme listed for `country`."""
        return [
            (f"{course_id}/schemes/{country.lower()}", scheme)
            for course_id, directory in self.lib.schemes_for(country)
            for scheme in directory.schemes
        ]

    def schemes(self) -> None:
        """A short card per programme checked for the learner's country; Details has the rest."""
        country = self.state.fields.get("country", "")
        if not country:
            self.ask_country_for("schemes")
            return
        found = self.country_schemes(country)
        if not found:
            self.say(
                self.t(
                    "We have not checked any programmes for {country} yet. Ask your "
                    "local government office, and never pay anyone to apply."
                ).format(country=self.country_name(country)),
                [self.way_back()],
            )
            return
        self.say(
            self.t(
                "Government programmes in {country} that we checked. Rules change: "
                "always check the official site before you apply. Applying never "
                "costs a fee."
            ).format(country=self.country_name(country))
        )
        site = self.t("Official site:")
        for n, (where, scheme) in enumerate(found, 1):
            name, summary = self.entry(where, scheme, "name"), self.entry(where, scheme, "summary")
            card = [f"<b>{self.num(n)}. {name}</b>", self.status(scheme), "", summary, ""]
            self.say("\n".join([*card, f"{site} {html.escape(scheme.url)}"]))
        details = [
            [
                Button(
                    self.t("Details {n}").format(n=self.num(n)), tokens.scheme_token(country, sc.id)
                )
            ]
            for n, (_, sc) in enumerate(found, 1)
        ]
        self.say(
            self.t("Tap a number for who can apply, how to apply, and where we checked."),
            [*details, self.way_back()],
        )

    def status(self, scheme: Scheme) -> str:
        return {
            "current": "✅ " + self.t("Running when we checked"),
            "ended": "⛔ " + self.t("Ended. Any offer of it now is a scam."),
            "uncertain": "⚠️ " + self.t("We could not confirm it is still running."),
        }[scheme.status]

    def scheme_details(self, value: str) -> None:
        """The rest of one programme's entry: who, how, and the page that confirms it."""
        country, _, scheme_id = value.partition("/")
        found = [(w, s) for w, s in self.country_schemes(country.upper()) if s.id == scheme_id]
        if not found:  # the entry was removed since the card was sent
            self.stale()
            return
        where, scheme = found[0]
        lines = [
            f"<b>{self.entry(where, scheme, 'name')}</b>",
            self.status(scheme),
            self.entry(where, scheme, "agency"),
            "",
        ]
        if scheme.details:
            lines += [self.entry(where, scheme, "details"), ""]
        lines += [
            f"<b>{self.t('Who can apply:')}</b> {self.entry(where, scheme, 'who')}",
            f"<b>{self.t('How to apply:')}</b> {self.entry(where, scheme, 'how')}",
            f"{self.t('Official site:')} {html.escape(scheme.url)}",
            self.checked(scheme),
        ]
        self.say(
            "\n".join(lines),
            [[Button(self.t("All programmes"), tokens.menu_token("schemes"))], self.way_back()],
        )

    # -- /scammed --------------------------------------------------------------------------------

    def scammed(self) -> None:
        """Help for a learner being scammed now: what to do first, then who to call."""
        self.say(
            self.t(
                "🆘 <b>If you are being scammed right now</b>\n\n"
                "1. Stop: don't send more money, codes or PINs, and stop replying.\n"
                "2. If money, a card or a code is involved, call your bank or e-wallet now. "
                "Use the number on your card or the help in its official app, never a number "
                "from the scammer's message.\n"
                "3. Keep screenshots of the chat, the number and any receipts."
            )
        )
        country = self.state.fields.get("country", "")
        if not country:
            self.ask_country_for("scammed")
            return
        files = self.lib.hotlines_for(country)
        for course_id, directory in files:
            where = f"{course_id}/hotlines/{country.lower()}"
            for line in directory.hotlines:
                self.say(self.hotline(where, line))
            if directory.advice:
                advice = self.ctx.texts.lesson(
                    self.state.locale, f"{where}/advice", directory.advice
                )
                self.say(html.escape(advice))
        if not files:
            self.say(
                self.t(
                    "We have not checked a reporting line for {country} yet. Report the "
                    "account in the app, and ask your bank or e-wallet where to report."
                ).format(country=self.country_name(country))
            )
        rows = []
        lesson = self.lib.lesson(*RECOVERY_LESSON)
        if lesson is not None:
            rows.append([Button(self.t("Take back my account"), tokens.lesson_token(lesson))])
        self.say(self.t("When you are ready, take back your accounts."), [*rows, self.way_back()])

    def hotline(self, where: str, line: Hotline) -> str:
        head = f"<b>{self.entry(where, line, 'name')}</b>"
        if line.phone:
            head += f" ☎️ <b>{html.escape(line.phone)}</b>"
        return "\n".join(
            [
                head,
                self.entry(where, line, "agency"),
                self.entry(where, line, "use"),
                html.escape(line.url),
                self.checked(line),
            ]
        )
