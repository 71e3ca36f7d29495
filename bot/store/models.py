"""Tables: learners, their lesson progress, their answers, and an append-only event log.

The engine's whole `LearnerState` is kept as JSON on the learner row (one read, one write per
update); progress, answers and events are separate rows because reports aggregate over them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Learner(Base):
    __tablename__ = "learners"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_learners_resume", "resume_lesson", "last_active_at"),
        Index("ix_learners_course_done", "first_course_done_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # "telegram", "console", ...
    external_id: Mapped[str] = mapped_column(String(64))  # the channel's user id, never a name
    first_name: Mapped[str] = mapped_column(String(128), default="")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    country: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|blocked
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)  # for broadcast segments
    created_at: Mapped[datetime]
    last_active_at: Mapped[datetime]
    # Copies of what the learner chose in the engine's state, as columns so reports, reminders
    # and segments can filter in SQL. The state stays the one source; `save` writes these.
    consent: Mapped[str] = mapped_column(String(8), default="")  # "" not asked | yes | no
    business: Mapped[str | None] = mapped_column(String(16))
    gender: Mapped[str | None] = mapped_column(String(16))
    age_group: Mapped[str | None] = mapped_column(String(16))
    disability: Mapped[str | None] = mapped_column(String(16))
    minority: Mapped[str | None] = mapped_column(String(16))
    opted_out: Mapped[bool] = mapped_column(default=False)  # /stop: no reminders or surveys
    resume_lesson: Mapped[str | None] = mapped_column(String(130))  # mid-course: what's next
    # Reminders and the follow-up survey; set when sent, so a restart never sends them twice.
    nudges_sent: Mapped[int] = mapped_column(default=0)  # since the learner was last active
    last_nudged_at: Mapped[datetime | None]
    first_course_done_at: Mapped[datetime | None]
    # The arm of a randomised encouragement (ENCOURAGEMENT), once the worker assigned it:
    # "encouraged" or "comparison"; none for learners outside the trial (see bot.journey.trial).
    arm: Mapped[str | None] = mapped_column(String(16))


class SurveyWave(Base):
    """An invitation to a follow-up wave, claimed before it is sent (the primary key lets one
    worker win): `months` after the learner's first finished course. Who answered is read from
    `answers` (the check-in's answers after `invited_at`), so a rate can always be recomputed
    from the raw rows."""

    __tablename__ = "survey_waves"

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    months: Mapped[int] = mapped_column(primary_key=True)
    invited_at: Mapped[datetime] = mapped_column(index=True)


class LessonProgress(Base):
    __tablename__ = "progress"

    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True
    )
    course: Mapped[str] = mapped_column(String(64), primary_key=True)
    lesson: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # started|completed
    score: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class AnswerRecord(Base):
    __tablename__ = "answers"
    __table_args__ = (
        Index("ix_answers_step", "course", "lesson", "step"),
        # A learner's answers to one step: the report pairs each learner's baseline and
        # follow-up answers by it. It also serves what an index on learner_id alone would.
        Index("ix_answers_learner_step", "learner_id", "course", "lesson", "step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    course: Mapped[str] = mapped_column(String(64))
    lesson: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(1000))
    correct: Mapped[bool | None]
    attempt: Mapped[int] = mapped_column(default=1)
    field: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class EventRecord(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_name_time", "name", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int | None] = mapped_column(
        ForeignKey("learners.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(32))
    course: Mapped[str] = mapped_column(String(64), default="")
    lesson: Mapped[str] = mapped_column(String(64), default="")
    step: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class InboxUpdate(Base):
    """A channel update, stored before the channel is told it arrived (the durable inbox).

    A crash at any moment leaves an update either `done` or still `pending`, and a restart
    finishes it. The unique key also deduplicates redeliveries. An update that cannot be parsed
    is set aside as `poison` with its error, so it never blocks the ones behind it.
    """

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. "telegram:1234"
    channel: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]  # the update as the platform sent it
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending|done|poison
    error: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(index=True)


class PendingReply(Base):
    """A reply stored with the progress that caused it and deleted once it is delivered.

    Keyed by the channel's address rather than the learner row, so the reply to /delete
    outlives the learner it erased.
    """

    __tablename__ = "replies"
    __table_args__ = (
        Index("ix_replies_address", "channel", "address", "id"),
        Index("ix_replies_due", "due_at"),
        # Never reuse an id: a process remembers the ids it delivered (see bot.store.replies),
        # and SQLite would otherwise give a deleted reply's id to the next one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))  # the channel's id for the learner
    payload: Mapped[dict[str, Any]]  # the message: see `bot.store.replies`
    attempts: Mapped[int] = mapped_column(default=0)
    # The process that stored it and is sending it ("host:pid:start"); none once deferred.
    owner: Mapped[str | None] = mapped_column(String(80))
    # When any process may send it: after a grace period for its owner (if the owner is not
    # known to be dead), or at the end of a 429's pause, or at the next try after a 5xx.
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(300))


class MediaFile(Base):
    """A channel's id for an uploaded file, so each file is uploaded once and then reused."""

    __tablename__ = "media_files"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    path: Mapped[str] = mapped_column(String(512), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))  # the file's content: re-upload if changed
    file_id: Mapped[str] = mapped_column(String(256))


class TemplateSend(Base):
    """A template message sent outside a learner's window: what WhatsApp's messaging tier counts
    (distinct users per 24 h) and what a programme pays for, by category."""

    __tablename__ = "template_sends"
    __table_args__ = (
        Index("ix_template_sends_recent", "channel", "sent_at"),
        Index("ix_template_sends_address", "channel", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    # reminder | survey | broadcast, or reply (a reply past Zalo's 8 free, sent proactive)
    purpose: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))  # utility | marketing | authentication
    sent_at: Mapped[datetime]


class Role(Base):
    """Who may do what beyond learning. Keyed by the channel's user id, never a username."""

    __tablename__ = "roles"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # admin | author
    granted_by: Mapped[str] = mapped_column(String(80))
    granted_at: Mapped[datetime]


class AuditEntry(Base):
    """Every admin action: who, what, when. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))  # "telegram:123" or "cli:<os user>"
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # the file's id
    message: Mapped[dict[str, Any]]  # the validated broadcast file, as sent
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))  # sending | done | cancelled
    created_by: Mapped[str] = mapped_column(String(80))
    notify_chat: Mapped[str | None] = mapped_column(String(64))  # admin to tell when done
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The channel's id for the broadcast's photo once it is uploaded, so every other recipient
    # (and a resumed run) gets the same picture without another upload.
    photo_id: Mapped[str | None] = mapped_column(String(256))


class BroadcastDraft(Base):
    """A broadcast as an admin previewed it. Sending it sets `broadcast_id`, in the transaction
    that queues the broadcast, so it can be sent once only (a double tap, an old button)."""

    __tablename__ = "broadcast_drafts"
    __table_args__ = ({"sqlite_autoincrement": True},)  # an old button never names a newer one

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by: Mapped[str] = mapped_column(String(80))
    message: Mapped[dict[str, Any]]  # the validated broadcast file, as previewed
    created_at: Mapped[datetime]
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"))


# A `pending` row's `last_error` starts with this when it waits for a quota of its channel to
# free (OverQuota), not for a retry: the report counts those apart.
QUOTA_WAIT = "waiting for a quota: "


class OutboxRow(Base):
    """One recipient of one broadcast: the durable record of whether they got it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "learner_id"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # The claim: one broadcast's due rows in order, without scanning the others.
        Index("ix_outbox_claim", "broadcast_id", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    # pending | sending | sent | failed | blocked | skipped
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    # The sender run holding a `sending` row (see BroadcastSender); NULL for any other status.
    owner: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(300))
    message_id: Mapped[int | None]
    # A channel whose message ids are strings (WhatsApp's wamid) keeps it here, and the latest
    # status its webhook reported for it (delivered, read, failed).
    platform_id: Mapped[str | None] = mapped_column(String(128), index=True)
    receipt: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime | None]


class BroadcastSender(Base):
    """A running broadcast sender and its heartbeat.

    A sender marks the rows it claims with its `owner` id and keeps `beat_at` fresh while it
    holds any. Rows whose owner has no fresh beat (or, on the same host, whose process is gone)
    are claimable at once: a crash costs seconds, not a lease.
    """

    __tablename__ = "broadcast_senders"

    owner: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


class Certificate(Base):
    """A course certificate; anyone holding its code can check it with /verify."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("learner_id", "course"),)

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    course: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))  # as the learner typed it for the certificate
    locale: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]


class AnonymousCount(Base):
    """What is left of learners who erased their data (/delete): counts, nothing personal."""

    __tablename__ = "anonymous_counts"

    metric: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. lesson_completed
    key: Mapped[str] = mapped_column(String(130), primary_key=True)  # e.g. "relief/get-ready"
    count: Mapped[int] = mapped_column(default=0)


class ChannelToken(Base):
    """A channel's current access token and its single-use refresh token (Zalo's expire about
    daily): kept here so the pair a refresh returned survives a restart, for every process."""

    __tablename__ = "channel_tokens"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(1024))
    refresh_token: Mapped[str] = mapped_column(String(1024))
    expires_at: Mapped[datetime | None]
    # sha256 of the pair in the settings this chain of refreshes started from: an admin who
    # authorizes again (a new pair in the settings) starts a new chain.
    seed: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
