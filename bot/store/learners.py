"""Loading a learner for one update and saving what the engine decided, in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.engine import Answer, LearnerState, Output, Progress, Track
from bot.errors import StoreError
from bot.store.models import AnswerRecord, EventRecord, Learner, LessonProgress


@dataclass(frozen=True)
class Identity:
    """Who sent an update, as the channel knows them."""

    channel: str
    external_id: str
    first_name: str = ""
    language: str = ""  # the channel's language hint, e.g. Telegram's language_code


def db_time(moment: datetime) -> datetime:
    """Naive UTC, which every backend stores the same way."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class LearnerRecord:
    """A learner row locked for one update; `save` applies the engine's decision."""

    def __init__(self, session: AsyncSession, row: Learner, is_new: bool) -> None:
        self._session = session
        self.row = row
        self.is_new = is_new

    @property
    def state(self) -> LearnerState:
        return LearnerState.from_json(self.row.state)

    async def save(self, state: LearnerState, outputs: Sequence[Output], now: datetime) -> None:
        row = self.row
        now = db_time(now)
        row.state = state.to_json()
        row.locale = state.locale
        row.country = state.fields.get("country") or row.country
        row.last_active_at = now
        for out in outputs:
            if isinstance(out, Answer):
                self._session.add(AnswerRecord(
                    learner_id=row.id, course=out.course, lesson=out.lesson, step=out.step,
                    value=out.value, correct=out.correct, attempt=out.attempt, field=out.field,
                    created_at=now))
            elif isinstance(out, Track):
                self._session.add(EventRecord(
                    learner_id=row.id, name=out.name, course=out.course, lesson=out.lesson,
                    step=out.step, data=dict(out.data), created_at=now))
            elif isinstance(out, Progress):
                await self._progress(out, now)

    async def _progress(self, out: Progress, now: datetime) -> None:
        key = (self.row.id, out.course, out.lesson)
        record = await self._session.get(LessonProgress, key)
        if record is None:
            record = LessonProgress(learner_id=self.row.id, course=out.course, lesson=out.lesson,
                                    status=out.status, score=0, total=0, started_at=now,
                                    completed_at=None)
            self._session.add(record)
        if out.status == "completed":
            record.status, record.completed_at = "completed", now
            record.score, record.total = out.score, out.total
        elif record.status != "completed":
            record.started_at = now  # a restart of an unfinished lesson


class LearnerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def learner(self, who: Identity, now: datetime,
                      default_locale: str = "en") -> AsyncIterator[LearnerRecord]:
        """The learner's row inside a transaction that commits when the block ends.

        On PostgreSQL the row is locked (`FOR UPDATE`); SQLite's `BEGIN IMMEDIATE` already
        serialises writers. Either way two updates of one learner never interleave.
        """
        now = db_time(now)
        try:
            async with self._sessions.begin() as session:
                query = (select(Learner)
                         .where(Learner.channel == who.channel,
                                Learner.external_id == who.external_id)
                         .with_for_update())
                row = (await session.execute(query)).scalar_one_or_none()
                is_new = row is None
                if row is None:
                    state = LearnerState(locale=default_locale,
                                         fields={"first_name": who.first_name})
                    row = Learner(channel=who.channel, external_id=who.external_id,
                                  first_name=who.first_name, locale=default_locale,
                                  status="active", state=state.to_json(), created_at=now,
                                  last_active_at=now)
                    session.add(row)
                    await session.flush()
                elif who.first_name and row.first_name != who.first_name:
                    row.first_name = who.first_name
                    row.state = {**row.state, "fields": {**row.state.get("fields", {}),
                                                         "first_name": who.first_name}}
                if row.status != "active":
                    row.status = "active"  # writing to us again means they can be reached
                yield LearnerRecord(session, row, is_new)
        except DBAPIError as exc:
            raise StoreError(f"database error while saving progress: {exc.orig}") from exc
