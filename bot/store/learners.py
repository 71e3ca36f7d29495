"""Loading a learner for one update and saving what the engine decided, in one write job."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session

from bot.engine import Answer, LearnerState, Output, Progress, Track
from bot.engine.onboarding import QUESTIONS
from bot.store import personal
from bot.store.db import for_reading, insert_or_skip
from bot.store.inbox import claim
from bot.store.models import (
    AnswerRecord,
    Certificate,
    EventRecord,
    Learner,
    LessonProgress,
    MediaFile,
)
from bot.store.prepared import Prepared
from bot.store.replies import Pending, Staged, stage
from bot.store.writer import transact, write

T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    """Who sent an update, as the channel knows them."""

    channel: str
    external_id: str
    first_name: str = ""
    language: str = ""  # the channel's language hint, e.g. Telegram's language_code
    language_chosen: bool = False  # the person picked it (`chat --lang`): don't ask again
    country_hint: str = ""  # the channel's guess (a phone number's calling code), to confirm

    def __post_init__(self) -> None:
        # As the channel sent them, these could hold what one database refuses (NUL, a lone
        # surrogate, a name longer than its column): every update would then fail to save.
        for name, limit in (
            ("channel", None),
            ("external_id", None),
            ("first_name", personal.FIRST_NAME_LIMIT),
            ("language", None),
        ):
            value = getattr(self, name)
            clean = personal.storable(value, limit)
            if clean != value:
                object.__setattr__(self, name, clean)


def db_time(moment: datetime) -> datetime:
    """Naive UTC, which every backend stores the same way."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# What one update reads of the learner row; the rest of its 25 columns are for reports.
_LEARNER = Learner.__table__
_READ_LEARNER = select(
    _LEARNER.c.id,
    _LEARNER.c.state,
    _LEARNER.c.first_name,
    _LEARNER.c.first_course_done_at,
).where(_LEARNER.c.channel == bindparam("channel"), _LEARNER.c.external_id == bindparam("who"))
_PROGRESS = LessonProgress.__table__
# Every update runs these: compiled once, run on the driver's cursor (see bot.store.prepared).
# PostgreSQL locks the row; SQLite's BEGIN IMMEDIATE already serialises writers.
_READ = Prepared(
    lambda dialect: _READ_LEARNER.with_for_update() if dialect == "postgresql" else _READ_LEARNER
)
_SAVE = Prepared(update(Learner).where(Learner.id == bindparam("learner")))
_ANSWER = Prepared(insert(AnswerRecord))
_EVENT = Prepared(insert(EventRecord))


def _progress_upsert(completed: bool) -> Prepared:
    """A completion records the score; a restart of an unfinished lesson moves its start; a
    completed lesson stays completed with its first score."""

    def build(dialect: str) -> Any:
        statement = insert_or_skip(dialect, _PROGRESS)
        if completed:
            changes: dict[str, Any] = {
                "status": "completed",
                "completed_at": statement.excluded.completed_at,
                "score": statement.excluded.score,
                "total": statement.excluded.total,
            }
        else:
            finished = _PROGRESS.c.status == "completed"
            changes = {
                "started_at": case(
                    (finished, _PROGRESS.c.started_at), else_=statement.excluded.started_at
                )
            }
        return statement.on_conflict_do_update(
            index_elements=["learner_id", "course", "lesson"], set_=changes
        )

    return Prepared(build)


_COMPLETED = _progress_upsert(completed=True)
_STARTED = _progress_upsert(completed=False)


class LearnerRecord:
    """A learner row locked for one update's write job; `save` applies the engine's decision.

    Everything here is synchronous, in SQLAlchemy Core on the job's connection: it runs inside
    a job of `bot.store.writer`, on the hot path of every update. Only the rare actions
    (certificates, /mydata, /delete) use the ORM, in a session of their own.
    """

    def __init__(
        self, conn: Connection, who: Identity, row: tuple[Any, ...], duplicate: bool = False
    ) -> None:
        self._conn = conn
        self.who = who
        learner_id, state, self._first_name, self._course_done = row
        self.id: int = learner_id
        self._state: dict[str, Any] = _as_dict(state)
        self.duplicate = duplicate  # this update was handled before; do nothing
        self.locale = str(self._state.get("locale", "en"))

    @property
    def state(self) -> LearnerState:
        state, name = self._state, self.who.first_name
        fields = state.get("fields", {})
        if name and fields.get("first_name") != name:  # they changed it in the app
            state = {**state, "fields": {**fields, "first_name": name}}
        return LearnerState.from_json(state)

    def save(
        self,
        state: LearnerState,
        outputs: Sequence[Output],
        now: datetime,
        resume_lesson: str | None = None,
    ) -> None:
        """Store the new state and outputs. `resume_lesson`: what a reminder would open."""
        now = db_time(now)
        consented = state.consent == "yes"
        self.locale = state.locale
        changes = {
            "learner": self.id,
            "state": state.to_json(),
            "locale": state.locale,
            "country": state.fields.get("country"),
            "first_name": self.who.first_name or self._first_name,
            "status": "active",  # writing to us again means they can be reached
            "last_active_at": now,
            "consent": state.consent,
            # Asked only with consent, and kept only with it.
            **{name: state.fields.get(name) if consented else None for name in QUESTIONS},
            "opted_out": state.opted_out,
            "resume_lesson": resume_lesson,
            "nudges_sent": 0,  # active again: a new spell of inactivity starts from here
        }
        # Set once, and left out of the statement otherwise: SQLite rewrites an index whenever
        # one of its columns is assigned, even to the same value, and this one is indexed.
        if self._course_done is None and any(
            isinstance(out, Track) and out.name == "course_completed" for out in outputs
        ):
            changes["first_course_done_at"] = self._course_done = now
        _SAVE.rowcount(self._conn, changes)
        # Answers and events: one driver call each, however many there are.
        answers = [
            {
                "learner_id": self.id,
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
                "learner_id": self.id,
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
        _ANSWER.execute_many(self._conn, answers)
        _EVENT.execute_many(self._conn, events)
        for out in outputs:
            if isinstance(out, Progress):
                self._progress(out, now)

    def _progress(self, out: Progress, now: datetime) -> None:
        completed = out.status == "completed"
        (_COMPLETED if completed else _STARTED).rowcount(
            self._conn,
            {
                "learner_id": self.id,
                "course": out.course,
                "lesson": out.lesson,
                "status": out.status,
                "score": out.score if completed else 0,
                "total": out.total if completed else 0,
                "started_at": now,
                "completed_at": now if completed else None,
            },
        )

    def stage(self, messages: list[Staged], now: datetime) -> list[Pending]:
        """Store replies to this learner, to be sent once this transaction commits (see
        `bot.store.replies.stage`)."""
        return stage(self._conn, self.who.channel, self.who.external_id, messages, now)

    # -- the rare actions, in the ORM ----------------------------------------------------------

    @contextmanager
    def _orm(self) -> Iterator[Session]:
        with Session(bind=self._conn, join_transaction_mode="create_savepoint") as session:
            yield session
            session.commit()  # releases its SAVEPOINT; the job's transaction commits later

    def certify(self, course: str, name: str, now: datetime) -> str:
        """The code of the learner's certificate for `course` (new, or renamed)."""
        with self._orm() as session:
            found = personal.certify(session, self.id, course, name, self.locale, db_time(now))
            return found.code

    def find_certificate(self, code: str) -> Certificate | None:
        with self._orm() as session:
            found = personal.find_certificate(session, code)
            if found is not None:
                session.expunge(found)
            return found

    def export(self) -> dict[str, Any]:
        with self._orm() as session:
            return personal.export(session, session.get_one(Learner, self.id))

    def erase(self) -> None:
        with self._orm() as session:
            personal.erase(session, session.get_one(Learner, self.id))


def _as_dict(value: Any) -> dict[str, Any]:
    # A JSON column read in Core comes back decoded on both backends; be lenient with text.
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def open_learner(
    conn: Connection,
    who: Identity,
    now: datetime,
    default_locale: str = "en",
    update_key: str | None = None,
) -> LearnerRecord:
    """The learner's row, created if new, for a write job to read and save.

    With `update_key`, the update is marked done in the inbox in the same transaction, and
    `duplicate` tells whether it had been handled already: exactly once, even across a
    crash between handling and acknowledging.

    On PostgreSQL the row is locked (`FOR UPDATE`); SQLite's `BEGIN IMMEDIATE` already
    serialises writers. Either way two updates of one learner never interleave.
    """
    now = db_time(now)
    params = {"channel": who.channel, "who": who.external_id}
    rows = _READ.execute(conn, params)
    if not rows:
        # Two processes may meet the same new learner at once: one insert wins, the other
        # does nothing and then waits for the winner's row lock.
        state = LearnerState(
            locale=default_locale,
            fields={"first_name": who.first_name},
            onboarding="notice" if who.language_chosen else "new",
        )
        conn.execute(
            insert_or_skip(conn.dialect.name, _LEARNER)
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
        rows = _READ.execute(conn, params)
    duplicate = update_key is not None and not claim(conn, update_key, now)
    return LearnerRecord(conn, who, rows[0], duplicate)


class LearnerStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(for_reading(engine), expire_on_commit=False)

    async def transact(self, job: Callable[[Connection], T]) -> T:
        """Run a write job (see `bot.store.writer`); StoreError if the database fails."""
        return await transact(self.engine, job)

    async def set_status(self, who: Identity, status: str) -> None:
        """Mark a learner `blocked` (they blocked the bot) or `active` again."""
        statement = (
            update(Learner)
            .where(Learner.channel == who.channel, Learner.external_id == who.external_id)
            .values(status=status)
        )
        await write(self.engine, statement)

    async def status_of(self, who: Identity) -> str | None:
        async with self._sessions() as session:
            return (
                await session.execute(
                    select(Learner.status).where(
                        Learner.channel == who.channel, Learner.external_id == who.external_id
                    )
                )
            ).scalar_one_or_none()

    async def certificate(self, code: str) -> Certificate | None:
        async with self._sessions() as session:
            return await session.get(Certificate, personal.normal_code(code))

    async def media_id(self, channel: str, path: str, digest: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(MediaFile, (channel, path))
            return row.file_id if row is not None and row.digest == digest else None

    async def remember_media(self, channel: str, path: str, digest: str, file_id: str) -> None:
        statement = insert_or_skip(self.engine.dialect.name, MediaFile).values(
            channel=channel, path=path, digest=digest, file_id=file_id
        )
        await write(
            self.engine,
            statement.on_conflict_do_update(
                index_elements=["channel", "path"], set_={"digest": digest, "file_id": file_id}
            ),
        )
