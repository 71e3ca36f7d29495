"""First contact: the language and a short, honest notice, then the first lesson; after it, with
consent, a short profile.

The profile is what the programme reports its reach by (country, business, gender, age group,
disability, ethnic minority). It is asked once the learner has finished a first lesson, when they
know what the bot is for and still answer: every question has "Prefer not to say", the whole
profile can be skipped, and without consent none of it is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.content.surveys import BASELINE, SURVEY_COURSE
from bot.engine import tokens
from bot.engine.context import N_
from bot.engine.core import Core
from bot.engine.outputs import Button, Track
from bot.engine.prompt import Meaning

SKIP = "skip"  # "prefer not to say", stored as given so reports can count it


@dataclass(frozen=True)
class Question:
    field: str  # the learner field (and report column) the answer goes to
    text: str
    options: tuple[tuple[str, str], ...]  # value, label


YES_NO = (("yes", N_("Yes")), ("no", N_("No")))
PROFILE = (
    # Country comes first and has its own menu (the names come from Babel); see ask_country.
    Question(
        "business",
        N_("What kind of business do you have?"),
        (
            ("food", N_("Food and drinks")),
            ("retail", N_("Shop or reselling")),
            ("crafts", N_("Crafts, clothes or beauty")),
            ("services", N_("Services")),
            ("farming", N_("Farming or fishing")),
            ("other", N_("Something else")),
            ("none", N_("No business yet")),
        ),
    ),
    Question(
        "gender",
        N_("What is your gender?"),
        (("woman", N_("Woman")), ("man", N_("Man")), ("other", N_("Another gender"))),
    ),
    Question(
        "age_group",
        N_("How old are you?"),
        (  # the programme's youth band is 18–35, and it teaches adults
            ("18-24", "18–24"),
            ("25-35", "25–35"),
            ("36-50", "36–50"),
            ("51+", N_("51 or older")),
        ),
    ),
    Question("disability", N_("Do you identify as a person with a disability?"), YES_NO),
    Question(
        "minority",
        N_("Do you identify as belonging to an ethnic minority or Indigenous group?"),
        YES_NO,
    ),
)
QUESTIONS = {q.field: q for q in PROFILE}
PROFILE_FIELDS = ("country", *QUESTIONS)

# First the short version, complete on what matters to the learner; "More" gives the detail.
NOTICE = N_(
    "Before we start: I keep your progress and answers, so you can stop and go on later. "
    "/mydata shows everything I keep, /delete erases it, /stop stops reminders."
)
NOTICE_DETAIL = N_(
    "What we keep and why:\n"
    "• Your progress and answers, so you can stop and go on later.\n"
    "• Reminders when you stop in the middle of a course, and one short survey some months "
    "after you finish one.\n"
    "• Only if you agree, after your first lesson: a few questions about you and your "
    "business. Every question can be skipped. We count the answers together with everyone "
    "else's, to show who the lessons reach and what changes for them. Reports never show any "
    "one person.\n\n"
    "/mydata sends you everything we keep. /delete erases it. /stop stops reminders."
)
PROFILE_REQUEST = N_(
    "May I ask you a few quick questions about you and your business? Each one can be "
    "skipped. I count the answers together with everyone else's, to show who the lessons "
    "reach. Reports never show any one person."
)


class Onboarding(Core):
    def begin(self, pending_course: str) -> None:
        """First contact, or /start before it was finished: ask the open question again."""
        self.state = replace(self.state, pending_course=pending_course or self.state.pending_course)
        step = self.state.onboarding
        if step in ("new", "language") and len(self.ctx.languages) > 1:
            self.ask_language(onboarding=True)
        elif step in ("new", "language", "notice"):
            self.show_notice()
        elif step == "consent":
            self.ask_consent()
        else:
            self.ask_profile(step)

    # -- the notice ----------------------------------------------------------------------------

    def notice_buttons(self, *, more: bool) -> list[list[Button]]:
        rows = [[Button("▶️ " + self.t("Start learning"), tokens.reply_token("start"), "next")]]
        if more:
            rows.append([Button(self.t("More about this"), tokens.reply_token("more"))])
        return rows

    def show_notice(self) -> None:
        self.state = replace(self.state, onboarding="notice")
        self.say(self.t(NOTICE), self.notice_buttons(more=True))

    def notice_reply(self, value: str) -> None:
        """A press on the notice: its detail, or on to the first lesson."""
        if value == "more":
            self.say(self.t(NOTICE_DETAIL), self.notice_buttons(more=False))
        elif value == "start":
            self.finish_onboarding()
        else:
            self.stale()

    # -- language and country ------------------------------------------------------------------

    def language_buttons(self) -> list[list[Button]]:
        return [
            [Button(name, tokens.locale_token(code))] for code, name in self.ctx.languages.items()
        ]

    def country_buttons(self) -> list[list[Button]]:
        rows = [
            [Button(self.ctx.texts.country(self.state.locale, code), tokens.country_token(code))]
            for code in self.ctx.countries
        ]
        rows.append([Button(self.t("Prefer not to say"), tokens.country_token(tokens.NO_COUNTRY))])
        return rows

    def ask_language(self, *, onboarding: bool = False) -> None:
        if onboarding:
            self.state = replace(self.state, onboarding="language")
        # Every language names itself, so a learner can find theirs before we share one.
        self.say("🌏 " + " · ".join(self.ctx.languages.values()), self.language_buttons())

    def ask_country(self, *, guess: bool = True) -> None:
        hint = self.ctx.country_hint
        if guess and hint in self.ctx.countries:
            # The channel's guess (a phone number's country code) is offered, never assumed:
            # numbers travel with migrant workers, and the learner says where the business is.
            self.say(
                self.t(
                    "Is your business in {country}? Some lessons have tips for your country."
                ).format(country=self.ctx.texts.country(self.state.locale, hint)),
                [
                    [
                        Button(
                            self.ctx.texts.country(self.state.locale, hint),
                            tokens.country_token(hint),
                            "yes",
                        )
                    ],
                    [Button(self.t("Another country"), tokens.country_token(tokens.OTHER_COUNTRY))],
                    [Button(self.t("Prefer not to say"), tokens.country_token(tokens.NO_COUNTRY))],
                ],
            )
            return
        self.say(
            self.t("Which country is your business in? Some lessons have tips for your country."),
            self.country_buttons(),
        )

    def set_language(self, code: str) -> None:
        self.state = replace(self.state, locale=code)
        if self.state.onboarding == "language":
            self.show_notice()
        else:
            self.say(self.t("Language changed."))
            self.resume()

    def set_country(self, code: str) -> None:
        fields = {k: v for k, v in self.state.fields.items() if k != "country"}
        if code != tokens.NO_COUNTRY:
            fields["country"] = code
        self.state = replace(self.state, fields=fields)
        self.answered("country")

    # -- consent and profile -------------------------------------------------------------------

    def consent_buttons(self) -> list[list[Button]]:
        return [
            [Button(self.t("Yes, ask me"), tokens.profile_token("consent", "yes"), "yes")],
            [Button(self.t("No, just the lessons"), tokens.profile_token("consent", "no"), "no")],
        ]

    def ask_consent(self) -> None:
        """After the first finished lesson: may we ask the profile questions?"""
        self.state = replace(self.state, onboarding="consent")
        self.say(self.t(PROFILE_REQUEST), self.consent_buttons())

    def profile_buttons(self, question: Question) -> list[list[Button]]:
        rows = [
            [Button(self.t(label), tokens.profile_token(question.field, value), _means(value))]
            for value, label in question.options
        ]
        rows.append(
            [Button(self.t("Prefer not to say"), tokens.profile_token(question.field, SKIP))]
        )
        rows.append(
            [Button("⏭ " + self.t("Skip the other questions"), tokens.profile_token("rest", SKIP))]
        )
        return rows

    def ask_profile(self, field: str) -> None:
        self.state = replace(self.state, onboarding=field)
        if field == "country":
            self.ask_country()
        else:
            question = QUESTIONS[field]
            self.say(self.t(question.text), self.profile_buttons(question))

    def profile_answer(self, answer: str) -> None:
        """A press of `field=value` from the consent or a profile question."""
        field, _, value = answer.partition("=")
        if field == "consent" and value in ("yes", "no"):
            self.set_consent(value)
        elif field == "rest" and self.state.onboarding in PROFILE_FIELDS:
            self.finish_onboarding()
        elif (
            field in QUESTIONS
            and self.state.consent == "yes"
            and value in {SKIP, *(v for v, _ in QUESTIONS[field].options)}
        ):
            self.state = replace(self.state, fields={**self.state.fields, field: value})
            self.answered(field)
        else:
            self.stale()

    def set_consent(self, value: str) -> None:
        self.state = replace(self.state, consent=value)
        if value == "no":
            # Withdrawn consent (an old "No" pressed later) takes the profile answers with it.
            # The country stays: lessons and /schemes need it, and /country sets it anyway.
            self.state = replace(
                self.state,
                fields={k: v for k, v in self.state.fields.items() if k not in QUESTIONS},
            )
        if self.state.onboarding != "consent":
            self.say(self.t("Saved."))
            self.resume()
        elif value == "yes":
            self.ask_profile("country")
        else:
            self.finish_onboarding()

    def answered(self, field: str) -> None:
        """Go on after a profile answer: the next question, or the lessons."""
        if self.state.onboarding != field:
            self.say(self.t("Saved."))
            self.resume()
            return
        following = PROFILE_FIELDS.index(field) + 1
        if self.state.consent == "yes" and following < len(PROFILE_FIELDS):
            self.ask_profile(PROFILE_FIELDS[following])
        else:
            self.finish_onboarding()

    def finish_onboarding(self) -> None:
        """First contact done: the deep-linked course or the menu. After the profile: go on."""
        course = self.lib.course(self.state.pending_course)
        first_contact = self.state.onboarding == "notice"
        self.state = replace(self.state, onboarding="", pending_course="")
        if not first_contact:
            self.say(self.t("Saved."))
            if not self.offer_baseline():
                self.resume()
            return
        self.say(
            self.t("Welcome! I teach short lessons for your business, a few minutes at a time.")
        )
        if course is not None:
            self.open_course(course)
        else:
            self.menu()

    def offer_baseline(self) -> bool:
        """With consent, after the profile: the baseline survey, once; asked?

        It asks what the follow-up waves will ask again, so the report can measure change for
        the same learners rather than rely on what they remember."""
        baseline = self.lib.lesson(SURVEY_COURSE, BASELINE)
        if self.state.consent != "yes" or baseline is None or baseline.key in self.state.completed:
            return False
        self.outputs.append(Track("survey_invited", SURVEY_COURSE, BASELINE))
        self.open_lesson(baseline)
        return True

    def offer_profile(self) -> bool:
        """Ask for the profile once, after the learner's first finished lesson; asked?"""
        if self.state.consent or self.state.onboarding:
            return False
        self.ask_consent()
        return True


def _means(value: str) -> Meaning:
    return "yes" if value == "yes" else "no" if value == "no" else ""
