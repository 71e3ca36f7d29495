"""Demo data: a believable programme of N learners, for trying the report and the admin tools.

The data follows what the bot itself writes (see bot/store/models.py): learners with a
consistent country and language and, with consent, a profile; lesson progress that thins out
lesson by lesson; quiz answers whose difficulty differs per question; `step_shown` events up to
the step where an unfinished lesson was put down; certificates; an encouragement trial
(reminders on for a random half, `bot.journey.trial`); with consent, the baseline survey; the
follow-up waves at 3, 5 and 12 months after a first course; and the anonymous counts left by
learners who erased their data.

The trial has a known effect: in the encouraged arm, the share selling online at each wave is
higher by `effect` (in expectation), and by nothing on every other question. So a report on
demo data can be checked against the truth (tests/test_evidence.py).

Everything comes from one seeded `random.Random`, so a seed gives the same database every time.
Rows go in with executemany in chunks, so 250,000 learners take about a minute, not hours.
Demo learners are on Telegram and WhatsApp, with external ids "demo-1", "demo-2", ... (no real
channel's user id looks like that: `is_demo`), with the status "demo", so nothing is ever sent
to them; `generate` refuses a database holding anyone else.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, delete, func, insert, not_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.content.library import Library, LoadedCourse, LoadedLesson
from bot.content.model import EndStep, InputStep, QuestionStep, Step, SurveyStep
from bot.content.surveys import BASELINE, CHECK_IN, SURVEY_COURSE
from bot.errors import LessonBotError
from bot.journey.followups import MONTH
from bot.journey.trial import COMPARISON, arm_for
from bot.report import labels
from bot.report.bulk import Batch
from bot.store.models import (
    AnonymousCount,
    AnswerRecord,
    Certificate,
    EventRecord,
    Learner,
    LessonProgress,
    SurveyWave,
)

# The channels demo learners use, and their shares. The channel is drawn from a generator of
# its own, so that the rest of a seed's data is what it was when every demo learner was "demo".
CHANNELS = {"telegram": 0.64, "whatsapp": 0.36}
EXTERNAL_ID = "demo-"  # + the learner's number
LEGACY_CHANNEL = "demo"  # what demo learners had before they were spread over channels
DEMO_STATUS = "demo"  # not "active": nothing proactive is ever sent to a demo learner
WEEKS = 70  # long enough for some learners to reach the 12-month wave
WAVES = (3, 5, 12)  # months after the first finished course
RESPONSE = {3: 0.5, 5: 0.42, 12: 0.33}  # who answers a wave's invitation
EFFECT = 0.10  # the encouraged arm's extra share selling online, at every wave

T = TypeVar("T")

# country: (share of learners, {locale: share}). None: the learner didn't say.
COUNTRIES: dict[str | None, tuple[float, dict[str, float]]] = {
    "ID": (0.24, {"id": 0.9, "en": 0.1}),
    "PH": (0.17, {"fil": 0.55, "en": 0.45}),
    "VN": (0.13, {"vi": 0.95, "en": 0.05}),
    "TH": (0.12, {"th": 0.95, "en": 0.05}),
    "MY": (0.09, {"ms": 0.7, "en": 0.3}),
    "KH": (0.07, {"km": 0.9, "en": 0.1}),
    "MM": (0.06, {"my": 0.9, "en": 0.1}),
    "LA": (0.04, {"lo": 0.85, "en": 0.15}),
    "SG": (0.02, {"en": 0.85, "ms": 0.15}),
    "BN": (0.01, {"ms": 0.7, "en": 0.3}),
    None: (0.05, {"en": 0.6, "id": 0.15, "fil": 0.15, "vi": 0.1}),
}
CONSENT = {"yes": 0.82, "no": 0.13, "": 0.05}
PROFILE: dict[str, dict[str, float]] = {
    "business": {
        "food": 0.3,
        "retail": 0.22,
        "crafts": 0.1,
        "services": 0.14,
        "farming": 0.09,
        "other": 0.05,
        "none": 0.08,
        "skip": 0.02,
    },
    "gender": {"woman": 0.6, "man": 0.37, "other": 0.01, "skip": 0.02},
    "age_group": {
        "18-24": 0.29,
        "25-35": 0.34,
        "36-50": 0.24,
        "51+": 0.1,
        "skip": 0.03,
    },
    "disability": {"yes": 0.04, "no": 0.9, "skip": 0.06},
    "minority": {"yes": 0.12, "no": 0.8, "skip": 0.08},
}
COURSE_SHARE = {
    "digital-marketing": 0.4,
    "money": 0.15,
    "online-safety": 0.25,
    "relief": 0.2,
}
# The outcome questions, as yes or no: the share "yes" at the baseline, the chance a "yes"
# stays one, and the chance a "no" has become a "yes" by each wave (more after the course
# that teaches it).
BASE_SHARE = {
    "selling-online": 0.45,
    "customers": 0.35,
    "two-step": 0.25,
    "applied-scheme": 0.12,
    "still-running": 0.93,
}
KEEP = {"still-running": 0.94}  # the others: 0.97
GAIN = {3: 0.12, 5: 0.16, 12: 0.22}
GAIN_IF_FINISHED = {("two-step", "online-safety"): 0.4, ("applied-scheme", "relief"): 0.2}
# How a "yes" or a "no" is answered, per question; "skip" is "Prefer not to say".
ANSWERS = {
    "customers": ({"10-30": 0.7, "over-30": 0.3}, {"under-10": 1.0}),
    "two-step": ({"yes": 1.0}, {"no": 0.75, "not-sure": 0.25}),
}
SKIPPED = 0.03
ATTRIBUTION = {
    True: {"a-lot": 0.35, "a-little": 0.4, "no": 0.2, "skip": 0.05},  # something changed
    False: {"a-lot": 0.08, "a-little": 0.3, "no": 0.57, "skip": 0.05},
}
COUNTERFACTUAL = {"yes": 0.3, "later": 0.3, "no": 0.2, "not-sure": 0.15, "skip": 0.05}
BUSINESSES = ("snacks", "batik", "noodles", "phone cases", "tailoring", "coffee", "vegetables")


class DemoRefused(LessonBotError):
    """The database holds real learners; demo data must not be mixed in by accident."""


def is_demo() -> ColumnElement[bool]:
    """A condition on `Learner`: made up by `generate` (this version or an earlier one)."""
    return or_(
        Learner.channel == LEGACY_CHANNEL,
        and_(Learner.channel.in_(list(CHANNELS)), Learner.external_id.like(f"{EXTERNAL_ID}%")),
    )


@dataclass
class DemoSummary:
    learners: int = 0
    progress: int = 0
    answers: int = 0
    events: int = 0
    certificates: int = 0
    baseline_respondents: int = 0
    survey_respondents: int = 0  # learners who answered at least one follow-up wave
    erased: int = 0
    channels: dict[str, int] = field(default_factory=dict)  # learners per channel


def _pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


class _Choice(Generic[T]):
    """`_pick` for a distribution used once per learner: the sums are worked out once."""

    def __init__(self, weights: Mapping[T, float]) -> None:
        self.keys = list(weights)
        self.cumulative = list(itertools.accumulate(weights.values()))

    def __call__(self, rng: random.Random) -> T:
        i = bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])
        return self.keys[min(i, len(self.keys) - 1)]


CHOOSE_COUNTRY = _Choice({c: share for c, (share, _) in COUNTRIES.items()})
CHOOSE_LOCALE = {c: _Choice(locales) for c, (_, locales) in COUNTRIES.items()}
CHOOSE_CONSENT = _Choice(CONSENT)
CHOOSE_CONSENT_NEW = _Choice({"": 0.5, "yes": 0.4, "no": 0.1})
CHOOSE_PROFILE = {name: _Choice(shares) for name, shares in PROFILE.items()}
CHOOSE_CHANNEL = _Choice(CHANNELS)


def _matches(step: Step, fields: Mapping[str, str]) -> bool:
    if not step.when:
        return True
    return all(
        fields.get(name) in ([want] if isinstance(want, str) else want)
        for name, want in step.when.items()
    )


class _Rows:
    def __init__(self) -> None:
        self.learners = Batch(
            Learner,
            (
                "id",
                "channel",
                "external_id",
                "first_name",
                "locale",
                "country",
                "status",
                "state",
                "tags",
                "created_at",
                "last_active_at",
                "consent",
                *PROFILE,
                "opted_out",
                "resume_lesson",
                "nudges_sent",
                "last_nudged_at",
                "first_course_done_at",
                "arm",
            ),
        )
        self.waves = Batch(SurveyWave, ("learner_id", "months", "invited_at"))
        self.progress = Batch(
            LessonProgress,
            (
                "learner_id",
                "course",
                "lesson",
                "status",
                "score",
                "total",
                "started_at",
                "completed_at",
            ),
        )
        self.answers = Batch(
            AnswerRecord,
            (
                "learner_id",
                "course",
                "lesson",
                "step",
                "value",
                "correct",
                "attempt",
                "field",
                "created_at",
            ),
        )
        self.events = Batch(
            EventRecord, ("learner_id", "name", "course", "lesson", "step", "data", "created_at")
        )
        self.certificates = Batch(
            Certificate, ("code", "learner_id", "course", "name", "locale", "issued_at")
        )

    def prepare(self, dialect: str) -> _Rows:
        for batch in (
            self.learners,
            self.progress,
            self.answers,
            self.events,
            self.certificates,
            self.waves,
        ):
            batch.prepare(dialect)
        return self

    async def flush(self, conn: AsyncConnection, summary: DemoSummary) -> None:
        summary.learners += await self.learners.flush(conn)  # first: the others refer to it
        summary.progress += await self.progress.flush(conn)
        summary.answers += await self.answers.flush(conn)
        summary.events += await self.events.flush(conn)
        summary.certificates += await self.certificates.flush(conn)
        await self.waves.flush(conn)


@dataclass(frozen=True)
class _Plan:
    lesson: LoadedLesson
    key: str
    steps: Sequence[Step]  # shown before the end, in order
    weights: list[float]  # per shown step: how likely learners put the lesson down there
    work: Sequence[tuple[int, Step]]  # (index in steps, step) of the steps that record an answer
    end: str  # the end step's id


@dataclass
class _Journey:
    """One learner's path so far, built while their rows are written."""

    id: int
    fields: dict[str, str]
    ability: float
    t: datetime
    last: datetime
    completed: list[str] = field(default_factory=list)
    courses_done: list[str] = field(default_factory=list)
    position: dict[str, Any] | None = None
    resume: str | None = None
    first_done: datetime | None = None
    arm: str | None = None
    # Per outcome question: "yes" at the baseline, and a draw that decides when a "no" turns.
    baseline: dict[str, bool] = field(default_factory=dict)
    draws: dict[str, float] = field(default_factory=dict)
    surveyed: set[str] = field(default_factory=set)  # the survey lessons with a progress row


class _World:
    """The programme's fixed traits (difficulty per question, where lessons lose people)."""

    def __init__(
        self, library: Library, rng: random.Random, now: datetime, effect: float = EFFECT
    ) -> None:
        self.rng = rng
        self.now = now
        self.effect = effect
        self.seed = f"demo-{rng.random()}"  # the trial's seed
        self.start = now - timedelta(weeks=WEEKS)
        self.courses = [c for c in library.courses if c.course.listed and c.lessons]
        self.course_by_id = {c.id: c for c in self.courses}
        self.course_share = {c.id: COURSE_SHARE.get(c.id, 0.2) for c in self.courses}
        self.baseline = library.lesson(SURVEY_COURSE, BASELINE)
        self.check_in = library.lesson(SURVEY_COURSE, CHECK_IN)
        self.campaigns = [rng.uniform(0.1, 0.9) * WEEKS * 7 for _ in range(3)]
        self.p_correct: dict[tuple[str, str], float] = {}
        self.p_complete: dict[str, float] = {}
        self.p_continue: dict[str, float] = {}
        self.sticky: dict[tuple[str, str], float] = {}
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._conditions: dict[str, list[str]] = {}
        for course in self.courses:
            hard = rng.randrange(1, len(course.lessons)) if len(course.lessons) > 1 else 0
            for i, lesson in enumerate(course.lessons):
                self.p_complete[lesson.key] = (0.84 if i == 0 else 0.93) - (0.1 * (i == hard))
                self.p_continue[lesson.key] = 0.93 - 0.015 * i
                steps = [s for s in lesson.steps if not isinstance(s, EndStep)]
                for j, step in enumerate(steps):
                    self.sticky[(lesson.key, step.id)] = 2.5 if j == 0 else 1.0  # opened, left
                for sticky in rng.sample(steps, k=min(2, len(steps))):
                    self.sticky[(lesson.key, sticky.id)] += rng.uniform(4, 9)  # text, hard quiz
                for question in lesson.steps:
                    if isinstance(question, QuestionStep):
                        self.p_correct[(lesson.key, question.id)] = rng.uniform(0.5, 0.95)

    def plan(self, lesson: LoadedLesson, fields: Mapping[str, str]) -> _Plan:
        """The lesson as a learner with `fields` sees it (branches are not modelled)."""
        names = self._conditions.get(lesson.key)
        if names is None:
            names = self._conditions[lesson.key] = sorted(
                {name for s in lesson.steps for name in s.when or ()}
            )
        key = (lesson.key, *(fields.get(name, "") for name in names))
        found = self._plans.get(key)
        if found is None:
            shown = [
                s
                for s in lesson.steps
                if not isinstance(s, EndStep) and (not s.when or _matches(s, fields))
            ]
            found = self._plans[key] = _Plan(
                lesson,
                lesson.key,
                shown,
                [self.sticky[(lesson.key, s.id)] for s in shown],
                [
                    (j, s)
                    for j, s in enumerate(shown)
                    if isinstance(s, QuestionStep)
                    or (isinstance(s, InputStep) and s.check == "text")
                ],
                next((s.id for s in lesson.steps if isinstance(s, EndStep)), ""),
            )
        return found

    def signup(self) -> datetime:
        rng = self.rng
        if rng.random() < 0.12:
            day = rng.choice(self.campaigns) + rng.uniform(0, 7)
        else:
            u = rng.random()
            # Slow start, then growth: a mix of uniform and a rising ramp.
            day = WEEKS * 7 * (u if rng.random() < 0.35 else math.sqrt(u))
        moment = self.start + timedelta(days=day, seconds=rng.uniform(0, 3600))
        return min(moment, self.now - timedelta(minutes=5)).replace(microsecond=0)


class _Generator:
    def __init__(self, world: _World, rows: _Rows, channels: random.Random) -> None:
        # Rows of the chunk being made; `generate` swaps in a new one per chunk.
        self.world = world
        self.rng = world.rng
        self.channel_rng = channels
        self.rows = rows
        self.respondents = 0
        self.baseline_respondents = 0
        self.channels: dict[str, int] = {}

    def learner(self, learner_id: int, n: int) -> None:
        rng, world = self.rng, self.world
        created = world.signup()
        country = CHOOSE_COUNTRY(rng)
        locale = CHOOSE_LOCALE[country](rng)
        # Learners who joined in the last days may not have answered the consent yet.
        consent = (
            CHOOSE_CONSENT if world.now - created > timedelta(days=2) else CHOOSE_CONSENT_NEW
        )(rng)
        profile = (
            {name: choose(rng) for name, choose in CHOOSE_PROFILE.items()}
            if consent == "yes"
            else {}
        )
        fields = {"first_name": f"Demo {n}", **({"country": country} if country else {}), **profile}
        start = min(created + timedelta(minutes=rng.uniform(1, 6)), world.now)
        journey = _Journey(learner_id, fields, rng.gauss(0, 0.07), start, start)
        journey.arm = arm_for(world.seed, learner_id)
        journey.baseline = {step: rng.random() < share for step, share in BASE_SHARE.items()}
        journey.draws = {step: rng.random() for step in BASE_SHARE}
        if consent == "yes":  # asked right after the profile, after the first lesson
            self.baseline_survey(journey, start + timedelta(minutes=rng.uniform(6, 12)))
        self.courses(journey)
        opted_out = rng.random() < 0.03
        answered = False
        if journey.first_done and not opted_out:
            for months in WAVES:
                invited = journey.first_done + months * MONTH
                if invited > world.now:
                    break
                self.rows.waves.add(learner_id, months, invited)
                if rng.random() < RESPONSE[months]:
                    at = invited + timedelta(hours=rng.uniform(0.2, 72))
                    answered = self.wave(journey, months, at) or answered
        self.respondents += answered
        state = {
            "locale": locale,
            "fields": fields,
            "position": journey.position,
            "completed": sorted(journey.completed),
            "last_lesson": journey.completed[-1] if journey.completed else "",
            "onboarding": "" if consent else "consent",
            "consent": consent,
            "opted_out": opted_out,
        }
        channel = CHOOSE_CHANNEL(self.channel_rng)
        self.channels[channel] = self.channels.get(channel, 0) + 1
        self.rows.learners.add(
            learner_id,
            channel,
            f"{EXTERNAL_ID}{n}",
            fields["first_name"],
            locale,
            country,
            # Never "active": broadcasts and reminders go only to active learners, so a bot
            # started on a demo database can't try to message these made-up ids.
            "blocked" if rng.random() < 0.03 else DEMO_STATUS,
            state,
            [],
            created,
            journey.last,
            consent,
            *(profile.get(name) for name in PROFILE),
            opted_out,
            journey.resume,
            0,
            None,
            journey.first_done,
            journey.arm,
        )

    def courses(self, journey: _Journey) -> None:
        rng, world = self.rng, self.world
        todo = [_pick(rng, world.course_share)]
        while todo:
            course = world.course_by_id[todo.pop()]
            if not self.course(journey, course):
                return
            journey.courses_done.append(course.id)
            others = {
                c: share for c, share in world.course_share.items() if c not in journey.courses_done
            }
            if others and rng.random() < 0.3:
                todo.append(_pick(rng, others))
                journey.t += timedelta(days=rng.expovariate(1 / 10))

    def course(self, journey: _Journey, course: LoadedCourse) -> bool:
        """Take the course's lessons in order; True if every one was completed."""
        rng, world = self.rng, self.world
        for i, lesson in enumerate(course.lessons):
            keeps_going = rng.random() < (
                0.93 if i == 0 else world.p_continue[course.lessons[i - 1].key]
            )
            if not keeps_going or journey.t >= world.now:
                journey.resume = lesson.key if i else None  # what a reminder would open
                return False
            if not self.lesson(journey, lesson):
                return False
            journey.t += timedelta(hours=min(rng.expovariate(1 / 30), 24 * 21))
        done = journey.last
        self.event(journey.id, "course_completed", course.id, "", "", done)
        journey.first_done = journey.first_done or done
        journey.resume = None
        if rng.random() < 0.9:
            self.rows.certificates.add(
                f"DEMO-{journey.id:07d}-{world.courses.index(course)}",
                journey.id,
                course.id,
                f"Demo Learner {journey.id}",
                "en",
                min(done + timedelta(minutes=1), world.now),
            )
        return True

    def lesson(self, journey: _Journey, lesson: LoadedLesson) -> bool:
        """One lesson: completed, or put down at a step. True if completed."""
        rng, world = self.rng, self.world
        plan = world.plan(lesson, journey.fields)
        course_id, lesson_id, shown = lesson.course_id, lesson.id, plan.steps
        started = journey.t
        self.event(journey.id, "lesson_started", course_id, lesson_id, "", started)
        minutes = lesson.lesson.minutes * rng.uniform(0.6, 2.0)
        finished = started + timedelta(minutes=minutes)
        # A lesson that would end in the future is one the learner is in the middle of.
        completes = rng.random() < world.p_complete[plan.key] and finished <= world.now
        pace = timedelta(minutes=minutes / max(len(shown), 1))
        stop = len(shown)
        if not completes and shown:
            stop = rng.choices(range(len(shown)), weights=plan.weights)[0]
            for j in range(stop + 1):
                self.event(
                    journey.id, "step_shown", course_id, lesson_id, shown[j].id, started + pace * j
                )
        score = total = 0
        for j, step in plan.work:
            if j >= stop:
                break  # the stop step was seen, not answered: there the lesson was put down
            at = started + pace * j
            if isinstance(step, QuestionStep):
                total += 1
                score += self.question(journey, plan.key, lesson, step, at)
            elif isinstance(step, InputStep):
                self.answer(
                    journey.id, lesson, step.id, rng.choice(BUSINESSES), None, 1, at, step.field
                )
        if not completes:
            self.rows.progress.add(journey.id, course_id, lesson_id, "started", 0, 0, started, None)
            journey.last = max(journey.last, min(started + pace * stop, world.now))
            journey.position = {
                "course": course_id,
                "lesson": lesson_id,
                "step": shown[stop].id if shown else "",
                "index": stop,
                "version": lesson.version,
                "attempts": 0,
            }
            journey.resume = plan.key
            return False
        self.rows.progress.add(
            journey.id, course_id, lesson_id, "completed", score, total, started, finished
        )
        self.event(
            journey.id,
            "lesson_completed",
            course_id,
            lesson_id,
            plan.end,
            finished,
            {"score": score, "total": total},
        )
        journey.completed.append(plan.key)
        journey.last = journey.t = finished
        return True

    def question(
        self, journey: _Journey, key: str, lesson: LoadedLesson, step: QuestionStep, at: datetime
    ) -> int:
        """Answer until right (or once, if the question allows no retry); 1 if right at once."""
        rng = self.rng
        p = min(0.99, max(0.05, self.world.p_correct[(key, step.id)] + journey.ability))
        wrong = [o.id for o in step.options if o.id != step.correct]
        for attempt in range(1, 4):
            right = rng.random() < (p if attempt == 1 else 0.85)
            value = step.correct if right or not wrong else rng.choice(wrong)
            self.answer(
                journey.id,
                lesson,
                step.id,
                value,
                value == step.correct,
                attempt,
                at + timedelta(seconds=20 * attempt),
            )
            if right or not step.retry:
                return int(right and attempt == 1)
        return 0

    def status(self, journey: _Journey, step: str, months: int) -> bool:
        """The learner's true answer (yes or no) to an outcome question at a wave."""
        if journey.baseline[step]:
            return journey.draws[step] < KEEP.get(step, 0.97)
        gain = GAIN[months] + max(
            (GAIN_IF_FINISHED.get((step, c), 0.0) for c in journey.courses_done), default=0.0
        )
        if step == "selling-online" and journey.arm != COMPARISON:
            # The known effect: +effect on the share, i.e. on the "no"s' chance to turn.
            gain += self.world.effect / (1 - BASE_SHARE[step])
        return journey.draws[step] < min(gain, 1.0)

    def said(self, step: str, yes: bool) -> str:
        rng = self.rng
        if rng.random() < SKIPPED:
            return "skip"
        if_yes, if_no = ANSWERS.get(step, ({"yes": 1.0}, {"no": 1.0}))
        return _pick(rng, if_yes if yes else if_no)

    def baseline_survey(self, journey: _Journey, at: datetime) -> None:
        lesson = self.world.baseline
        if lesson is None or at > self.world.now:
            return
        self.event(journey.id, "survey_invited", lesson.course_id, lesson.id, "", at)
        if self.rng.random() < 0.1:  # put down without an answer
            return
        self.baseline_respondents += 1
        answers = {step: self.said(step, yes) for step, yes in journey.baseline.items()}
        self.questionnaire(journey, lesson, answers, at)

    def wave(self, journey: _Journey, months: int, at: datetime) -> bool:
        """The check-in at a wave, answered at `at`; whether it was (not in the future)."""
        lesson = self.world.check_in
        if lesson is None or at > self.world.now:
            return False
        now = {step: self.status(journey, step, months) for step in BASE_SHARE}
        changed = any(now[step] and not journey.baseline[step] for step in now)
        answers = {step: self.said(step, yes) for step, yes in now.items()}
        answers["attribution"] = _pick(self.rng, ATTRIBUTION[changed])
        answers["counterfactual"] = _pick(self.rng, COUNTERFACTUAL)
        self.questionnaire(journey, lesson, answers, at)
        return True

    def questionnaire(
        self, journey: _Journey, lesson: LoadedLesson, answers: Mapping[str, str], at: datetime
    ) -> None:
        """The survey lesson's rows: started, the answers in step order, completed."""
        self.event(journey.id, "lesson_started", lesson.course_id, lesson.id, "", at)
        questions = [s for s in lesson.steps if isinstance(s, SurveyStep) and s.id in answers]
        for i, step in enumerate(questions):
            moment = at + timedelta(seconds=30 * (i + 1))
            self.answer(journey.id, lesson, step.id, answers[step.id], None, 1, moment)
        end = at + timedelta(minutes=3)
        finished = end <= self.world.now
        if lesson.key not in journey.surveyed:  # one progress row per lesson, as in the bot
            journey.surveyed.add(lesson.key)
            self.rows.progress.add(
                journey.id,
                lesson.course_id,
                lesson.id,
                "completed" if finished else "started",
                0,
                0,
                at,
                end if finished else None,
            )
        if finished:
            self.event(
                journey.id,
                "lesson_completed",
                lesson.course_id,
                lesson.id,
                "done",
                end,
                {"score": 0, "total": 0},
            )
        journey.last = max(journey.last, min(end, self.world.now))

    def answer(
        self,
        learner_id: int,
        lesson: LoadedLesson,
        step: str,
        value: str,
        correct: bool | None,
        attempt: int,
        at: datetime,
        field: str | None = None,
    ) -> None:
        self.rows.answers.add(
            learner_id,
            lesson.course_id,
            lesson.id,
            step,
            value,
            correct,
            attempt,
            field,
            min(at, self.world.now),
        )

    def event(
        self,
        learner_id: int,
        name: str,
        course: str,
        lesson: str,
        step: str,
        at: datetime,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.rows.events.add(
            learner_id, name, course, lesson, step, data or {}, min(at, self.world.now)
        )


def _erased_counts(world: _World, rng: random.Random, learners: int) -> dict[tuple[str, str], int]:
    """What a few erased learners left: their completions, as /delete keeps them."""
    counts: dict[tuple[str, str], int] = {}
    erased = max(3, round(learners * 0.004))
    counts[("learners_erased", "")] = erased
    for _ in range(erased):
        if not world.courses:
            break
        course = world.course_by_id[_pick(rng, world.course_share)]
        done = 0
        while done < len(course.lessons) and rng.random() < 0.85:
            key = ("lesson_completed", course.lessons[done].key)
            counts[key] = counts.get(key, 0) + 1
            done += 1
        if done == len(course.lessons):
            counts[("course_completed", course.id)] = (
                counts.get(("course_completed", course.id), 0) + 1
            )
    return counts


async def _clear(conn: AsyncConnection, counts_too: bool) -> None:
    """Remove earlier demo data, so a second run replaces the first instead of adding to it."""
    demo_ids = select(Learner.id).where(is_demo()).scalar_subquery()
    for model in (EventRecord, AnswerRecord, LessonProgress, Certificate, SurveyWave):
        await conn.execute(delete(model).where(model.learner_id.in_(demo_ids)))
    await conn.execute(delete(Learner).where(is_demo()))
    if counts_too:
        await conn.execute(delete(AnonymousCount))


async def generate(
    engine: AsyncEngine,
    library: Library,
    learners: int,
    seed: int,
    now: datetime,
    *,
    force: bool = False,
    chunk: int = 2000,
    effect: float = EFFECT,
) -> DemoSummary:
    """Replace any earlier demo data with `learners` new demo learners, in one transaction.

    Refuses (DemoRefused) when the database has learners not made here, unless `force`.
    With `force`, real learners and the anonymous counts are left as they are; without it the
    database holds only demo data, so its anonymous counts are demo counts too.
    """
    now = now.astimezone(UTC).replace(tzinfo=None, microsecond=0) if now.tzinfo else now
    rng = random.Random(seed)
    summary = DemoSummary()
    async with engine.begin() as conn:
        others = (
            await conn.execute(select(func.count()).select_from(Learner).where(not_(is_demo())))
        ).scalar_one()
        if others and not force:
            raise DemoRefused(
                f"this database has {others} real learner(s); demo data would be mixed into "
                "their reports. Point DATABASE_URL at a new database (for example "
                "sqlite+aiosqlite:///demo.db), or pass --force if you really mean it"
            )
        if conn.dialect.name == "sqlite":
            # A page cache big enough for the indexes being filled; SQLite's default 2 MB makes
            # every insert spill pages to the WAL and read them back.
            await conn.exec_driver_sql("PRAGMA cache_size = -262144")
        await _clear(conn, counts_too=not others)
        first_id = int((await conn.execute(select(func.max(Learner.id)))).scalar() or 0) + 1
        world = _World(library, rng, now, effect)
        generator = _Generator(world, _Rows(), random.Random(f"channels-{seed}"))

        for first in range(1, learners + 1, chunk):
            generator.rows = _Rows()
            for n in range(first, min(first + chunk, learners + 1)):
                generator.learner(first_id + n - 1, n)
            await generator.rows.prepare(conn.dialect.name).flush(conn, summary)
        summary.survey_respondents = generator.respondents
        summary.baseline_respondents = generator.baseline_respondents
        summary.channels = dict(sorted(generator.channels.items()))
        if not others:
            counts = _erased_counts(world, rng, learners)
            summary.erased = counts[("learners_erased", "")]
            await conn.execute(
                insert(AnonymousCount),
                [{"metric": metric, "key": key, "count": n} for (metric, key), n in counts.items()],
            )
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA cache_size = -2000")  # back to the default
        if conn.dialect.name == "postgresql":
            # Ids were given explicitly; move the sequence past them for the bot's own inserts.
            await conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('learners', 'id'), "
                    "(SELECT max(id) FROM learners))"
                )
            )
    return summary


def describe(summary: DemoSummary) -> Sequence[str]:
    channels = ", ".join(
        f"{n:,} on {labels.channel_name(channel)}" for channel, n in summary.channels.items()
    )
    return [
        f"{summary.learners:,} demo learners" + (f" ({channels})" if channels else ""),
        f"{summary.progress:,} lesson progress rows",
        f"{summary.answers:,} answers",
        f"{summary.events:,} events",
        f"{summary.certificates:,} certificates",
        f"{summary.baseline_respondents:,} baseline respondents",
        f"{summary.survey_respondents:,} follow-up respondents",
        f"{summary.erased:,} erased learners (anonymous counts)",
    ]
