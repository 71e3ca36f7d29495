"""Loading a learner for one update and saving what the engine decided, in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.engine import Answer, LearnerState, Output, Progress, Track
from bot.engine.onboarding import QUESTIONS
from bot.errors import StoreError
from bot.store import personal
from bot.store.db import insert_or_skip
from bot.store.models import (
    AnswerRecord,
    Certificate,
    EventRecord,
    Learner,
    LessonProgress,
    MediaFile,
    ProcessedUpdate,
)


@dataclass(frozen=True)
class Identity:
    """Who sent an update, as the channel knows them."""

    channel: str
    external_id: str
    first_name: str = ""
    language: str = ""  # the channel's language hint, e.g. Telegram's language_code
    language_chosen: bool = False  # the person picked it (`chat --lang`): don't ask again


def db_time(moment: datetime) -> datetime:
    """Naive UTC, which every backend stores the same way."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class LearnerRecord:
    """A learner row locked for one update; `save` applies the engine's decision."""

    def __init__(self, session: AsyncSession, row: Learner, duplicate: bool = False) -> None:
        self._session = session
        self.row = row
        self.duplicate = duplicate  # this update was handled before; do nothing

    @property
    def state(self) -> LearnerState:
        return LearnerState.from_json(self.row.state)

    async def save(
        self,
        state: LearnerState,
        outputs: Sequence[Output],
        now: datetime,
        resume_lesson: str | None = None,
    ) -> None:
        """Store the new state and outputs. `resume_lesson`: what a reminder would open."""
        row = self.row
        now = db_time(now)
        row.state = state.to_json()
        row.locale = state.locale
        row.country = state.fields.get("country")
        row.last_active_at = now
        row.consent = state.consent
        for name in QUESTIONS:  # asked only with consent, and kept only with it
            setattr(row, name, state.fields.get(name) if state.consent == "yes" else None)
        row.opted_out = state.opted_out
        row.resume_lesson = resume_lesson
        row.nudges_sent = 0  # active again: a new spell of inactivity starts from here
        if row.first_course_done_at is None and any(
            isinstance(out, Track) and out.name == "course_completed" for out in outputs
        ):
            row.first_course_done_at = now
        # Answers and events go in as one multi-row INSERT each: every statement is a round
        # trip to the database thread, and updates are latency-bound.
        answers = [
            {
                "learner_id": row.id,
                "course": out.course,
                "lesson": out.lesson,
                "step": out.step,
                "value": out.value,
                "correct": out.correct,
                "attempt": out.attempt,
                "field": out.field,
                "created_at": now,
            }
            for out in outputs
            if isinstance(out, Answer)
        ]
        events = [
            {
                "learner_id": row.id,
                "name": out.name,
                "course": out.course,
                "lesson": out.lesson,
                "step": out.step,
                "data": dict(out.data),
                "created_at": now,
            }
            for out in outputs
            if isinstance(out, Track)
        ]
        if answers:
            await self._session.execute(insert(AnswerRecord), answers)
        if events:
            await self._session.execute(insert(EventRecord), events)
        for out in outputs:
            if isinstance(out, Progress):
                await self._progress(out, now)

    async def _progress(self, out: Progress, now: datetime) -> None:
        key = (self.row.id, out.course, out.lesson)
        record = await self._session.get(LessonProgress, key)
        if record is None:
            record = LessonProgress(
                learner_id=self.row.id,
                course=out.course,
                lesson=out.lesson,
                status=out.status,
                score=0,
                total=0,
                started_at=now,
                completed_at=None,
            )
            self._session.add(record)
        if out.status == "completed":
            record.status, record.completed_at = "completed", now
            record.score, record.total = out.score, out.total
        elif record.status != "completed":
            record.started_at = now  # a restart of an unfinished lesson

    async def certify(self, course: str, name: str, now: datetime) -> Certificate:
        return await personal.certify(
            self._session, self.row.id, course, name, self.row.locale, db_time(now)
        )

    async def find_certificate(self, code: str) -> Certificate | None:
        return await personal.find_certificate(self._session, code)

    async def export(self) -> dict[str, Any]:
        return await personal.export(self._session, self.row)

    async def erase(self) -> None:
        await personal.erase(self._session, self.row)


class LearnerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time. Queue writers here instead of letting SQLite's busy
        # handler sleep and poll, which turns contention into second-long stalls.
        sqlite = engine.dialect.name == "sqlite"
        self._write_turn: asyncio.Lock | contextlib.nullcontext[None] = (
            asyncio.Lock() if sqlite else contextlib.nullcontext()
        )

    @asynccontextmanager
    async def learner(
        self,
        who: Identity,
        now: datetime,
        default_locale: str = "en",
        update_key: str | None = None,
    ) -> AsyncIterator[LearnerRecord]:
        """The learner's row inside a transaction that commits when the block ends.

        With `update_key`, the update is recorded as handled in the same transaction, and
        `duplicate` tells whether it had been handled already: exactly once, even across a
        crash between handling and acknowledging.

        On PostgreSQL the row is locked (`FOR UPDATE`); SQLite's `BEGIN IMMEDIATE` already
        serialises writers. Either way two updates of one learner never interleave.
        """
        now = db_time(now)
        try:
            async with self._write_turn, self._sessions.begin() as session:
                query = (
                    select(Learner)
                    .where(Learner.channel == who.channel, Learner.external_id == who.external_id)
                    .with_for_update()
                )
                row = (await session.execute(query)).scalar_one_or_none()
                if row is None:
                    # Two processes may meet the same new learner at once: one insert wins,
                    # the other does nothing and then waits for the winner's row lock.
                    state = LearnerState(
                        locale=default_locale,
                        fields={"first_name": who.first_name},
                        onboarding="notice" if who.language_chosen else "new",
                    )
                    await session.execute(
                        insert_or_skip(self.engine.dialect.name, Learner)
                        .values(
                            channel=who.channel,
                            external_id=who.external_id,
                            first_name=who.first_name,
                            locale=default_locale,
                            status="active",
                            state=state.to_json(),
                            created_at=now,
                            last_active_at=now,
                        )
                        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
                    )
                    row = (await session.execute(query)).scalar_one()
                elif who.first_name and row.first_name != who.first_name:
                    row.first_name = who.first_name
                    row.state = {
                        **row.state,
                        "fields": {**row.state.get("fields", {}), "first_name": who.first_name},
                    }
                if row.status != "active":
                    row.status = "active"  # writing to us again means they can be reached
                duplicate = update_key is not None and not await self._first_time(
                    session, update_key, now
                )
                yield LearnerRecord(session, row, duplicate)
        except DBAPIError as exc:
            raise StoreError(f"database error while saving progress: {exc.orig}") from exc

    async def _first_time(self, session: AsyncSession, key: str, now: datetime) -> bool:
        """Record `key` as handled; False if it already was (one statement, no race)."""
        statement = insert_or_skip(self.engine.dialect.name, ProcessedUpdate)
        result = await session.execute(
            statement.values(key=key, handled_at=now).on_conflict_do_nothing(index_elements=["key"])
        )
        return bool(getattr(result, "rowcount", 1))

    async def set_status(self, who: Identity, status: str) -> None:
        """Mark a learner `blocked` (they blocked the bot) or `active` again."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Learner)
                .where(Learner.channel == who.channel, Learner.external_id == who.external_id)
                .values(status=status)
            )

    async def status_of(self, who: Identity) -> str | None:
        async with self._sessions() as session:
            return (
                await session.execute(
                    select(Learner.status).where(
                        Learner.channel == who.channel, Learner.external_id == who.external_id
                    )
                )
            ).scalar_one_or_none()

    async def media_id(self, channel: str, path: str, digest: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(MediaFile, (channel, path))
            return row.file_id if row is not None and row.digest == digest else None

    async def remember_media(self, channel: str, path: str, digest: str, file_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.merge(
                MediaFile(channel=channel, path=path, digest=digest, file_id=file_id)
            )

    async def forget_updates_before(self, moment: datetime) -> None:
        """Drop dedupe records older than any redelivery Telegram would make (a day)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.handled_at < db_time(moment))
            )
