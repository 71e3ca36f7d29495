"""Messages the bot starts: reminders to learners who stopped mid-course, and the invitation to
the follow-up survey some months after they finish their first course.

Each message is claimed before it is sent, by a conditional UPDATE that only one worker can win
(`nudges_sent` still what we read; `survey_invited_at` still empty). So however many workers run
and however often they restart, a learner never gets the same message twice. The price: a worker
killed between the claim and the send loses that one message (at most once, never twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.hours import QuietHours
from bot.channels.delivery import Deliverer, DeliveryError, RetryLater, Unreachable
from bot.config import Settings
from bot.content.library import Library, LoadedLesson
from bot.content.text import render
from bot.engine import Texts
from bot.engine.context import N_
from bot.engine.tokens import lesson_token, menu_token
from bot.store.learners import db_time
from bot.store.models import Learner

log = logging.getLogger(__name__)

SURVEY_COURSE = "follow-up"  # lessons/follow-up: the survey is a lesson authors can change

REMINDER = N_(
    "Hi {first_name}! You stopped in the middle of “{lesson}”. It takes a few "
    "minutes to finish. Tap to go on where you left off."
)
SURVEY = N_(
    "Hi {first_name}! Some months ago you finished a course with us. Would you answer "
    "five short questions about your business? It takes two minutes."
)


@dataclass(frozen=True)
class Policy:
    remind_after: timedelta = timedelta(days=3)  # inactive this long mid-course: a reminder
    remind_max: int = 2  # reminders per spell of inactivity, then silence
    # Outside the learner's local daytime (09:00-19:00 by default) nothing is sent.
    night: QuietHours = field(default_factory=lambda: QuietHours(time(19), time(9)))
    survey_after: timedelta = timedelta(days=150)  # after the first finished course

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        first, _, last = settings.remind_hours.partition("-")
        return cls(
            remind_after=timedelta(days=settings.remind_after_days),
            remind_max=settings.remind_max,
            night=QuietHours(time.fromisoformat(last.strip()), time.fromisoformat(first.strip())),
            survey_after=timedelta(days=settings.survey_after_days),
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


@dataclass
class Tally:
    reminded: int = 0
    invited: int = 0
    failed: int = 0


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

    def __post_init__(self) -> None:
        self._limiter = AsyncLimiter(max(self.rate, 1.0), 1.0)
        self.tally = Tally()

    async def run_once(self) -> Tally:
        """Send every reminder and invitation due now (in the learners' daytime)."""
        now = self.clock()
        for row in await self._due_reminders(now):
            if not self.policy.night.contains(now, row.country) and await self._claim_nudge(
                row, now
            ):
                await self._remind(row)
        survey = self.library.course(SURVEY_COURSE)
        if survey is None:
            return self.tally
        for row in await self._due_invitations(now):
            if not self.policy.night.contains(now, row.country) and await self._claim_invite(
                row.id, now
            ):
                await self._invite(row, survey.lessons[0])
        return self.tally

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

    async def _due_reminders(self, now: datetime) -> list[Due]:
        quiet_since = db_time(now - self.policy.remind_after)
        return await self._due(
            Learner.resume_lesson.is_not(None),
            Learner.last_active_at <= quiet_since,
            Learner.nudges_sent < self.policy.remind_max,
            (Learner.last_nudged_at.is_(None)) | (Learner.last_nudged_at <= quiet_since),
            order=Learner.last_active_at,
        )

    async def _due_invitations(self, now: datetime) -> list[Due]:
        return await self._due(
            Learner.survey_invited_at.is_(None),
            Learner.first_course_done_at <= db_time(now - self.policy.survey_after),
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

    async def _claim_nudge(self, row: Due, now: datetime) -> bool:
        return await self._update_if(
            row.id,
            Learner.nudges_sent == row.nudges_sent,
            nudges_sent=row.nudges_sent + 1,
            last_nudged_at=db_time(now),
        )

    async def _claim_invite(self, learner_id: int, now: datetime) -> bool:
        return await self._update_if(
            learner_id, Learner.survey_invited_at.is_(None), survey_invited_at=db_time(now)
        )

    # -- messages ------------------------------------------------------------------------------

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
        if await self._send(row.id, row.external_id, text, keyboard):
            self.tally.reminded += 1

    async def _invite(self, row: Due, survey: LoadedLesson) -> None:
        text = render(self.texts.ui(row.locale, SURVEY), {"first_name": row.first_name})
        keyboard = [[(self.texts.ui(row.locale, "Answer the questions"), lesson_token(survey))]]
        if await self._send(row.id, row.external_id, text, keyboard):
            self.tally.invited += 1

    async def _send(
        self, learner_id: int, external_id: str, text: str, keyboard: list[list[tuple[str, str]]]
    ) -> bool:
        async with self._limiter:
            try:
                await self.deliverer.send(external_id, text, keyboard, None)
                return True
            except RetryLater as exc:
                await asyncio.sleep(min(exc.seconds, 60))
            except Unreachable as exc:
                log.info("learner %s is unreachable: %s", learner_id, exc)
                await self._update_if(learner_id, Learner.status == "active", status="blocked")
            except DeliveryError as exc:
                log.warning("could not send a follow-up to learner %s: %s", learner_id, exc)
        self.tally.failed += 1
        return False


async def run_forever(followups: FollowUps, every: float = 60.0) -> None:
    """The worker loop: look for due reminders and invitations every minute."""
    while True:
        try:
            await followups.run_once()
        except Exception:
            log.exception("follow-ups failed; trying again in %.0f s", every)
        await asyncio.sleep(every)
