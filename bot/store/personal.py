"""A learner's own data: certificates, the /mydata export and the /delete erasure.

All of it runs inside the learner's update transaction, so an erasure or a certificate is
saved together with the state that led to it, or not at all.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.db import insert_or_skip
from bot.store.models import (
    AnonymousCount,
    AnswerRecord,
    Base,
    Certificate,
    EventRecord,
    Learner,
    LessonProgress,
)

# No 0/O, 1/I/L: people read the code off a printed page and type it on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


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
    """Everything stored about the learner, table by table, for /mydata."""
    data: dict[str, Any] = {"learner": _rows([learner])[0]}
    tables: list[tuple[str, type[Base], Any]] = [
        ("progress", LessonProgress, LessonProgress.learner_id),
        ("answers", AnswerRecord, AnswerRecord.learner_id),
        ("events", EventRecord, EventRecord.learner_id),
        ("certificates", Certificate, Certificate.learner_id),
    ]
    for name, model, column in tables:
        found = (session.execute(select(model).where(column == learner.id))).scalars()
        data[name] = _rows(list(found))
    return data


def erase(session: Session, learner: Learner) -> None:
    """Delete the learner and everything about them; add to the anonymous counts first."""
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
    session.execute(delete(Learner).where(Learner.id == learner.id))


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
