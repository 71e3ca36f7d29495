"""A learner's own data: certificates, the /mydata export and the /delete erasure.

All of it runs inside the learner's update transaction, so an erasure or a certificate is
saved together with the state that led to it, or not at all.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.event import contains, listen
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.engine.events import COMMANDS, Command, Unsupported
from bot.store.db import checkpoint_wal, insert_or_skip
from bot.store.models import (
    AnonymousCount,
    AnswerRecord,
    AuditEntry,
    Base,
    Certificate,
    EventRecord,
    Learner,
    LessonProgress,
    OutboxRow,
    PendingReply,
    Role,
    SurveyWave,
    TemplateSend,
)

log = logging.getLogger(__name__)

# No 0/O, 1/I/L: people read the code off a printed page and type it on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


FIRST_NAME_LIMIT = 128  # characters: the `learners.first_name` column


def storable(text: str, limit: int | None = None) -> str:
    """`text` as every database we support takes it, so a name or message never fails a save.

    NUL is dropped (PostgreSQL refuses it in text), each lone surrogate, which UTF-8 cannot
    encode (both drivers refuse it), becomes U+FFFD, and with `limit` the text is clipped to
    that many characters (PostgreSQL refuses a longer value for a column of that length).
    """
    if "\0" in text:
        text = text.replace("\0", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Through UTF-16: a surrogate pair becomes its character, a lone one U+FFFD.
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text if limit is None else text[:limit]


def describe(event: object) -> str:
    """A learner's event as a log line may show it: its kind and how long its text is, never
    the text. What people type can be anything (their name, a phone number), and logs are
    kept, copied and read by more people than the database."""
    if isinstance(event, Unsupported):
        return f"Unsupported({event.kind})"  # the channel's word for it, not the learner's
    if isinstance(event, Command) and event.name in COMMANDS:
        return f"Command(/{event.name}, arg of {len(event.arg)} characters)"
    if not is_dataclass(event):
        return type(event).__name__
    sizes = [
        f"{field.name} of {len(value)} characters"
        for field in fields(event)
        if isinstance(value := getattr(event, field.name), str)
    ]
    return f"{type(event).__name__}({', '.join(sizes)})"


def normal_code(typed: str) -> str:
    """`k7q2 9xpm`, `K7Q2-9XPM` and `k7q29xpm` are one code: `K7Q2-9XPM`."""
    bare = "".join(ch for ch in typed.upper() if ch.isalnum())
    return f"{bare[:4]}-{bare[4:]}" if len(bare) == 8 else bare


def certify(
    session: Session, learner_id: int, course: str, name: str, locale: str, now: datetime
) -> Certificate:
    """The learner's certificate for `course`: a new one, or the one they had, renamed."""
    found = session.execute(
        select(Certificate).where(
            Certificate.learner_id == learner_id, Certificate.course == course
        )
    ).scalar_one_or_none()
    if found is not None:
        found.name, found.locale = name, locale
        return found
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    certificate = Certificate(
        code=normal_code(code),
        learner_id=learner_id,
        course=course,
        name=name,
        locale=locale,
        issued_at=now,
    )
    session.add(certificate)
    session.flush()
    return certificate


def find_certificate(session: Session, typed: str) -> Certificate | None:
    return session.get(Certificate, normal_code(typed))


def _rows(objects: list[Any]) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return [
        {column.key: plain(getattr(obj, column.key)) for column in obj.__table__.columns}
        for obj in objects
    ]


def export(session: Session, learner: Learner) -> dict[str, Any]:
    """Everything stored about the learner, table by table, for /mydata.

    Their rows of each table the README's "What is stored" lists: by learner row, by their
    address on the channel (replies outlive the learner row), and as an admin, by their id.
    """
    data: dict[str, Any] = {"learner": _rows([learner])[0]}
    actor = f"{learner.channel}:{learner.external_id}"  # as the audit log names an admin
    tables: list[tuple[str, type[Base], Any]] = [
        ("progress", LessonProgress, LessonProgress.learner_id == learner.id),
        ("answers", AnswerRecord, AnswerRecord.learner_id == learner.id),
        ("events", EventRecord, EventRecord.learner_id == learner.id),
        ("certificates", Certificate, Certificate.learner_id == learner.id),
        ("survey_waves", SurveyWave, SurveyWave.learner_id == learner.id),
        (
            "replies",
            PendingReply,
            (PendingReply.channel == learner.channel)
            & (PendingReply.address == learner.external_id),
        ),
        ("outbox", OutboxRow, OutboxRow.learner_id == learner.id),
        (
            "template_sends",
            TemplateSend,
            (TemplateSend.channel == learner.channel)
            & (TemplateSend.address == learner.external_id),
        ),
        (
            "roles",
            Role,
            (Role.channel == learner.channel) & (Role.external_id == learner.external_id),
        ),
        ("audit_log", AuditEntry, AuditEntry.actor == actor),
    ]
    for name, model, theirs in tables:
        found = session.execute(select(model).where(theirs).order_by(*_key(model))).scalars()
        data[name] = _rows(list(found))
    return data


def _key(model: type[Base]) -> list[Any]:
    return list(model.__table__.primary_key)


def erase(session: Session, learner: Learner) -> None:
    """Delete the learner and everything about them; add to the anonymous counts first.

    On SQLite every connection overwrites what it deletes with zeros (`secure_delete`, see
    `bot.store.db.configure_sqlite`), and once this transaction commits the WAL is emptied
    (`_checkpoint_after_commit`), so nothing of the learner is left in either file.
    """
    conn = session.connection()
    completed = (
        session.execute(
            select(LessonProgress.course, LessonProgress.lesson).where(
                LessonProgress.learner_id == learner.id, LessonProgress.status == "completed"
            )
        )
    ).all()
    courses = (
        session.execute(select(Certificate.course).where(Certificate.learner_id == learner.id))
    ).scalars()
    counts = [("learners_erased", "")]
    counts += [("lesson_completed", f"{course}/{lesson}") for course, lesson in completed]
    counts += [("course_completed", course) for course in courses]
    for metric, key in counts:
        _bump(session, metric, key)
    # Events would survive as anonymous rows (their key is SET NULL), but timings can point at
    # a person: they go too. Progress, answers, certificates and outbox rows cascade.
    session.execute(delete(EventRecord).where(EventRecord.learner_id == learner.id))
    # Keyed by address, like replies; the tier counts one user fewer, which errs on the safe
    # side of the learner's privacy, not of the quota.
    session.execute(
        delete(TemplateSend).where(
            TemplateSend.channel == learner.channel, TemplateSend.address == learner.external_id
        )
    )
    session.execute(delete(Learner).where(Learner.id == learner.id))
    if conn.dialect.name == "sqlite":
        _checkpoint_after_commit(conn)


_CHECKPOINT_DUE = "lessonbot_checkpoint_due"  # in the connection's `info`: an erasure commits


def _checkpoint_after_commit(conn: Connection) -> None:
    """Empty the WAL once this transaction commits, on this connection.

    A checkpoint can't run inside a transaction, and the erasure runs inside a write job, whose
    transaction the writer commits after the job has returned (with the other jobs of its
    group): nothing of the job runs after that commit. So the commit itself is hooked.
    SQLAlchemy's `commit` event comes just before it commits; `_commit_then_checkpoint` then
    commits (the same COMMIT, a moment early), checkpoints outside any transaction, and
    SQLAlchemy's own commit finds nothing left to do (sqlite3's `commit()` without an open
    transaction does nothing). A rolled-back erasure makes the next commit checkpoint.
    """
    conn.info[_CHECKPOINT_DUE] = True
    if not contains(conn, "commit", _commit_then_checkpoint):
        listen(conn, "commit", _commit_then_checkpoint)


def _commit_then_checkpoint(conn: Connection) -> None:
    if not conn.info.pop(_CHECKPOINT_DUE, False):
        return
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None
    try:
        dbapi_conn.commit()
    except sqlite3.Error as exc:
        # What SQLAlchemy's own commit would raise: the writer reports it as a StoreError,
        # and SQLAlchemy rolls the transaction back.
        raise DBAPIError.instance("COMMIT", None, exc, sqlite3.Error) from exc
    # Committed: from here nothing may fail the job. Not tried again on the next commit either,
    # or a long reader (a report) would make every commit wait; the erased bytes then leave
    # the WAL when it is next emptied.
    try:
        if not checkpoint_wal(dbapi_conn):
            log.warning("readers kept the WAL from being emptied after an erasure")
    except Exception as exc:
        log.warning("could not empty the WAL after an erasure: %s", exc)


def _bump(session: Session, metric: str, key: str) -> None:
    statement = insert_or_skip(session.get_bind().dialect.name, AnonymousCount).values(
        metric=metric, key=key, count=1
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["metric", "key"], set_={"count": AnonymousCount.count + 1}
        )
    )


def count_of(session: Session, metric: str, key: str = "") -> int:
    found = session.get(AnonymousCount, (metric, key))
    return found.count if found else 0
