"""Messages the bot starts: reminders to learners who stopped mid-course, and the invitations
to the follow-up survey's waves (3, 5 and 12 months after their first finished course).

Each message is claimed before it is sent, by a write that only one worker can win (a
conditional UPDATE of `nudges_sent`; an INSERT of the wave's `survey_waves` row). So however
many workers run and however often they restart, a learner never gets the same message twice.
The price: a worker killed between the claim and the send loses that one message (at most
once, never twice).

A learner owed several waves at once (the bot was off, or the waves were changed) is invited to
the latest only: three questionnaires in a row would be answered carelessly, if at all. A wave
is owed until the next one is due (the last one, for `LAST_WAVE_GRACE` months).

Where a channel allows free messages only for a while after the learner's last one (WhatsApp:
24 h), the first reminder goes inside that window, and the later ones keep the regular schedule,
carried by a template (see `Policy`). What the channel refuses is handled once, never in a loop:
`NotAllowed` uses the message up and keeps its reason in `events` (`reminder_not_sent`,
`survey_not_sent`); `OverQuota` gives the claim back and holds the learner until it ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy import ColumnElement, and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.hours import QuietHours
from bot.channels.delivery import (
    Deliverer,
    DeliveryError,
    NotAllowed,
    OverQuota,
    Proactive,
    RetryLater,
    Unreachable,
)
from bot.config import Settings
from bot.content.library import Library, LoadedLesson
from bot.content.surveys import CHECK_IN, SURVEY_COURSE
from bot.content.text import render
from bot.engine import Texts
from bot.engine.context import N_
from bot.engine.tokens import lesson_token, menu_token
from bot.journey.trial import COMPARISON, Trial
from bot.store.db import insert_or_skip
from bot.store.learners import db_time
from bot.store.models import EventRecord, Learner, SurveyWave
from bot.store.writer import transact, write

log = logging.getLogger(__name__)

MONTH = timedelta(days=365.25 / 12)
LAST_WAVE_GRACE = 3  # months after the last wave during which it is still sent

REMINDER = N_(
    "Hi {first_name}! You stopped in the middle of “{lesson}”. It takes a few "
    "minutes to finish. Tap to go on where you left off."
)
SURVEY = N_(
    "Hi {first_name}! Some months ago you finished a course with us. Would you answer "
    "a few short questions about your business? It takes two minutes."
)

Keyboard = list[list[tuple[str, str]]]


@dataclass(frozen=True)
class Policy:
    remind_after: timedelta = timedelta(days=3)  # inactive this long mid-course: a reminder
    remind_max: int = 2  # reminders per spell of inactivity, then silence
    # Outside the learner's local daytime (09:00-19:00 by default) nothing is sent.
    night: QuietHours = field(default_factory=lambda: QuietHours(time(19), time(9)))
    waves: tuple[int, ...] = (3, 5, 12)  # months after the first finished course
    # On a channel with a window (WhatsApp: 24 h of free messages after the learner's last one,
    # then only paid, pre-approved templates), the first reminder of a spell goes inside it:
    # from `in_window_after` of the window (half: 12 h on WhatsApp, long enough to mean the
    # lesson was put down, not paused for the afternoon) until `in_window_margin` before it
    # closes, in the learner's daytime. That span is 11.5 h on WhatsApp and the night 14 h, so
    # by default only a learner who stops between 07:00 and 09:30 finds it all at night; they
    # get the regular reminder, and it costs a template.
    in_window_after: float = 0.5
    # 30 min: a batch takes up to batch/rate (100 s) to go out, and the channel keeps its own
    # margin for clock drift and inbox lag (10 min on WhatsApp). Sent later, the reminder
    # could meet a closed window and go as a template after all.
    in_window_margin: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        first, _, last = settings.remind_hours.partition("-")
        return cls(
            remind_after=timedelta(days=settings.remind_after_days),
            remind_max=settings.remind_max,
            night=QuietHours(time.fromisoformat(last.strip()), time.fromisoformat(first.strip())),
            waves=settings.wave_months,
        )


@dataclass(frozen=True)
class Due:
    """A learner a message is due to."""

    id: int
    external_id: str
    locale: str
    country: str | None
    first_name: str
    resume_lesson: str | None
    nudges_sent: int
    last_nudged_at: datetime | None  # as stored: given back if the claim is undone


@dataclass
class Tally:
    reminded: int = 0
    invited: int = 0
    failed: int = 0  # not sent, and not tried again (NotAllowed among them)
    deferred: int = 0  # OverQuota: still due once the quota frees


@dataclass
class FollowUps:
    engine: AsyncEngine
    library: Library
    texts: Texts
    deliverer: Deliverer
    policy: Policy = field(default_factory=Policy)
    rate: float = 5.0  # messages per second: well under what broadcasts use
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    batch: int = 500
    trial: Trial | None = None  # a randomised encouragement: no reminders in its comparison arm

    def __post_init__(self) -> None:
        self._limiter = AsyncLimiter(max(self.rate, 1.0), 1.0)
        self.tally = Tally()
        # Learners an OverQuota held back, until when. In memory, like a 429's pause: a restart
        # tries each once more and is told the same, which costs no message.
        self._held: dict[int, datetime] = {}

    async def run_once(self) -> Tally:
        """Send every reminder and invitation due now (in the learners' daytime)."""
        now = self.clock()
        self._held = {learner: until for learner, until in self._held.items() if until > now}
        if self.trial is not None:  # before any reminder: the arm decides who gets one
            await self.trial.assign(self.engine)
        window = self._window()
        if window is not None:  # first: these must go before the window closes
            for row in await self._due_in_window(now, window):
                if self._may_send(row, now) and await self._claim_nudge(row, now, regular=False):
                    await self._remind(row)
        for row in await self._due_reminders(now):
            if self._may_send(row, now) and await self._claim_nudge(row, now, regular=True):
                await self._remind(row)
        survey = self.library.lesson(SURVEY_COURSE, CHECK_IN)
        if survey is None:
            return self.tally
        for months in sorted(self.policy.waves, reverse=True):  # the latest wave owed, only
            for row in await self._due_invitations(now, months):
                if self._may_send(row, now) and await self._claim_invite(row.id, months, now):
                    await self._invite(row, survey, months, now)
        return self.tally

    def _window(self) -> timedelta | None:
        """The window the first reminder is fitted into; None where there is none (Telegram),
        or where the regular first reminder is due before the in-window span ends anyway (a
        short REMIND_AFTER_DAYS), which also keeps one reminder from meeting both rules."""
        window = self.deliverer.capabilities.window
        if window is None or self.policy.remind_max < 1:
            return None
        return window if self.policy.remind_after >= window - self.policy.in_window_margin else None

    def _may_send(self, row: Due, now: datetime) -> bool:
        # `_held` holds only what is still in the future: run_once drops the rest.
        return not self.policy.night.contains(now, row.country) and row.id not in self._held

    # -- queries -------------------------------------------------------------------------------

    async def _due(self, *conditions: ColumnElement[bool], order: Any) -> list[Due]:
        query = (
            select(
                Learner.id,
                Learner.external_id,
                Learner.locale,
                Learner.country,
                Learner.first_name,
                Learner.resume_lesson,
                Learner.nudges_sent,
                Learner.last_nudged_at,
            )
            .where(
                Learner.channel == self.deliverer.channel,
                Learner.status == "active",
                Learner.opted_out.is_(False),
                *conditions,
            )
            .order_by(order)
            .limit(self.batch)
        )
        async with self.engine.connect() as conn:
            return [Due(*row) for row in (await conn.execute(query)).all()]

    async def _due_in_window(self, now: datetime, window: timedelta) -> list[Due]:
        """The first reminder of a spell, while the learner's window is still open. Oldest
        first: theirs closes soonest."""
        return await self._due(
            Learner.resume_lesson.is_not(None),
            self._encouraged(),
            Learner.nudges_sent == 0,
            Learner.last_active_at <= db_time(now - window * self.policy.in_window_after),
            Learner.last_active_at > db_time(now - window + self.policy.in_window_margin),
            order=Learner.last_active_at,
        )

    async def _due_reminders(self, now: datetime) -> list[Due]:
        quiet_since = db_time(now - self.policy.remind_after)
        return await self._due(
            Learner.resume_lesson.is_not(None),
            self._encouraged(),
            Learner.last_active_at <= quiet_since,
            Learner.nudges_sent < self.policy.remind_max,
            (Learner.last_nudged_at.is_(None)) | (Learner.last_nudged_at <= quiet_since),
            order=Learner.last_active_at,
        )

    @staticmethod
    def _encouraged() -> ColumnElement[bool]:
        """Reminders go to everyone but a trial's comparison arm."""
        return or_(Learner.arm.is_(None), Learner.arm != COMPARISON)

    def _wave_ends(self, months: int) -> int:
        """When a wave is no longer owed: at the next wave, or LAST_WAVE_GRACE after the last
        (an answer much later than its wave would not be that wave's). So each query reads
        only the learners who finished a course in one band of months, not every finisher."""
        later = [m for m in self.policy.waves if m > months]
        return min(later) if later else months + LAST_WAVE_GRACE

    async def _due_invitations(self, now: datetime, months: int) -> list[Due]:
        this_or_later = exists().where(
            and_(SurveyWave.learner_id == Learner.id, SurveyWave.months >= months)
        )
        return await self._due(
            Learner.first_course_done_at <= db_time(now - months * MONTH),
            Learner.first_course_done_at > db_time(now - self._wave_ends(months) * MONTH),
            ~this_or_later,
            order=Learner.first_course_done_at,
        )

    async def _update_if(
        self, learner_id: int, condition: ColumnElement[bool], **values: object
    ) -> bool:
        """Set `values` on the learner if `condition` still holds; whether it did."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(Learner).where(Learner.id == learner_id, condition).values(**values)
            )
        return bool(result.rowcount)

    async def _claim_nudge(self, row: Due, now: datetime, *, regular: bool) -> bool:
        # `last_nudged_at` spaces the regular reminders. The in-window one leaves it alone, so
        # the regular one still comes `remind_after` after the learner's last message.
        stamp = {"last_nudged_at": db_time(now)} if regular else {}
        return await self._update_if(
            row.id, Learner.nudges_sent == row.nudges_sent, nudges_sent=row.nudges_sent + 1, **stamp
        )

    async def _release_nudge(self, row: Due) -> bool:
        """Undo our claim, unless the learner has written since (a new spell began)."""
        return await self._update_if(
            row.id,
            Learner.nudges_sent == row.nudges_sent + 1,
            nudges_sent=row.nudges_sent,
            last_nudged_at=row.last_nudged_at,
        )

    async def _claim_invite(self, learner_id: int, months: int, now: datetime) -> bool:
        row = {"learner_id": learner_id, "months": months, "invited_at": db_time(now)}

        def claim(conn: Any) -> bool:
            statement = insert_or_skip(conn.dialect.name, SurveyWave).on_conflict_do_nothing()
            return bool(conn.execute(statement.values(**row)).rowcount)

        return await transact(self.engine, claim)

    async def _release_invite(self, learner_id: int, months: int, claimed: datetime) -> bool:
        statement = delete(SurveyWave).where(
            SurveyWave.learner_id == learner_id,
            SurveyWave.months == months,
            SurveyWave.invited_at == db_time(claimed),
        )
        return await transact(self.engine, lambda conn: bool(conn.execute(statement).rowcount))

    # -- messages ------------------------------------------------------------------------------

    def _course_title(self, locale: str, course_id: str) -> str:
        course = self.library.course(course_id)
        if course is None:
            return ""
        return self.texts.lesson(locale, f"{course.id}/title", course.course.title)

    async def _remind(self, row: Due) -> None:
        course, _, lesson_id = (row.resume_lesson or "").partition("/")
        lesson = self.library.lesson(course, lesson_id)
        if lesson is None:  # removed from the content since: /continue finds the way
            title, button = "", menu_token("continue")
        else:  # opens the lesson, at the step where the learner stopped if they were in it
            title = self.texts.lesson(row.locale, f"{lesson.key}/title", lesson.lesson.title)
            button = lesson_token(lesson)
        text = render(
            self.texts.ui(row.locale, REMINDER), {"first_name": row.first_name, "lesson": title}
        )
        keyboard = [[("▶️ " + self.texts.ui(row.locale, "Continue"), button)]]
        values = {"name": row.first_name, "course": self._course_title(row.locale, course)}
        proactive = Proactive("reminder", values)
        release = partial(self._release_nudge, row)
        if await self._send(row, text, keyboard, proactive, row.resume_lesson or "", release):
            self.tally.reminded += 1

    async def _invite(self, row: Due, survey: LoadedLesson, months: int, claimed: datetime) -> None:
        text = render(self.texts.ui(row.locale, SURVEY), {"first_name": row.first_name})
        keyboard = [[(self.texts.ui(row.locale, "Answer the questions"), lesson_token(survey))]]
        # "course": the one the message opens, as for a reminder; here the survey.
        values = {"name": row.first_name, "course": self._course_title(row.locale, SURVEY_COURSE)}
        proactive = Proactive("survey", values)
        release = partial(self._release_invite, row.id, months, claimed)
        if await self._send(row, text, keyboard, proactive, survey.key, release):
            self.tally.invited += 1

    async def _send(
        self,
        row: Due,
        text: str,
        keyboard: Keyboard,
        proactive: Proactive,
        about: str,  # "course/lesson" the message is for, kept with a refusal
        release: Callable[[], Awaitable[object]],  # gives the claim back: the message stays due
    ) -> bool:
        async with self._limiter:
            try:
                await self.deliverer.send(
                    row.external_id, text, keyboard, None, proactive=proactive
                )
                return True
            except OverQuota as exc:
                log.info("follow-up to learner %s waits until %s: %s", row.id, exc.until, exc)
                await release()
                self._held[row.id] = exc.until
                self.tally.deferred += 1
                return False
            except NotAllowed as exc:
                # The channel's rules, not a fault: asking again would get the same answer, so
                # the message stays used up and its reason goes where the admin looks.
                log.info("follow-up to learner %s not allowed: %s", row.id, exc)
                await self._not_sent(row.id, f"{proactive.purpose}_not_sent", about, str(exc))
            except RetryLater as exc:
                await asyncio.sleep(min(exc.seconds, 60))
            except Unreachable as exc:
                log.info("learner %s is unreachable: %s", row.id, exc)
                await self._update_if(row.id, Learner.status == "active", status="blocked")
            except DeliveryError as exc:
                log.warning("could not send a follow-up to learner %s: %s", row.id, exc)
        self.tally.failed += 1
        return False

    async def _not_sent(self, learner_id: int, name: str, about: str, reason: str) -> None:
        """An `events` row, beside the learner's others: in /mydata, and for the admin to
        count and read (`SELECT data FROM events WHERE name = 'reminder_not_sent'`)."""
        course, _, lesson = about.partition("/")
        event = insert(EventRecord).values(
            learner_id=learner_id,
            name=name,
            course=course,
            lesson=lesson,
            data={"reason": reason},
            created_at=db_time(self.clock()),
        )
        await write(self.engine, event)


async def run_forever(followups: FollowUps, every: float = 60.0) -> None:
    """The worker loop: look for due reminders and invitations every minute."""
    while True:
        try:
            await followups.run_once()
        except Exception:
            log.exception("follow-ups failed; trying again in %.0f s", every)
        await asyncio.sleep(every)
