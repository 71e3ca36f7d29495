"""Broadcast files (`broadcasts/*.yaml`): the message per locale, buttons, audience, schedule."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from bot.channels.capabilities import CHANNELS, Capabilities
from bot.channels.delivery import Delivered, Deliverer, Proactive, Rejected
from bot.content import text as tx
from bot.content.checks import inside
from bot.content.diagnostics import Diagnostic, Severity
from bot.content.library import Library
from bot.content.model import Country, Id, Text, _Model
from bot.content.source import Source, read_file
from bot.content.validate import validate
from bot.errors import LessonBotError

log = logging.getLogger(__name__)

Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]


class BroadcastButton(_Model):
    label: dict[Locale, Text]
    lesson: str | None = Field(None, description="course-id/lesson-id to open")
    url: Annotated[str, StringConstraints(pattern=r"^https://")] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> BroadcastButton:
        if (self.lesson is None) == (self.url is None):
            raise ValueError("a button needs exactly one of `lesson:` or `url:`")
        return self


class Segment(_Model):
    """Who gets it. Every key narrows the audience; an empty segment means every learner."""

    locale: tuple[Locale, ...] = ()
    country: tuple[Country, ...] = ()
    enrolled: Id | None = Field(None, description="started a lesson of this course")
    completed: Id | None = Field(None, description="finished every lesson of this course")
    active_within_days: int | None = Field(None, ge=1)
    tags: tuple[Tag, ...] = ()
    channel: tuple[str, ...] = Field(
        (), description="only learners on these apps (telegram, whatsapp); none: every app"
    )

    @field_validator("channel", mode="before")
    @classmethod
    def _one_or_more(cls, value: object) -> object:
        """`channel: whatsapp` as well as `channel: [telegram, whatsapp]`."""
        return (value,) if isinstance(value, str) else value

    @field_validator("channel")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in CHANNELS:
                raise ValueError(
                    f"unknown channel `{name}`; a broadcast reaches {', '.join(CHANNELS)}"
                )
        return value


class Schedule(_Model):
    at: datetime | None = Field(None, description="an absolute time, with its UTC offset")
    local_time: time | None = Field(None, description="this time of day in each learner's zone")

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.at is None) == (self.local_time is None):
            raise ValueError("a schedule needs exactly one of `at:` or `local_time:`")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("`at:` needs a UTC offset, like 2026-12-01T09:00:00+07:00")
        return self


class BroadcastFile(_Model):
    version: Literal[1]
    kind: Literal["broadcast"]
    id: Id
    text: dict[Locale, Text] = Field(min_length=1)
    fallback_locale: Locale = "en"
    media: str | None = Field(None, description="a photo, relative to the broadcasts folder")
    buttons: tuple[BroadcastButton, ...] = ()
    segment: Segment = Segment()
    schedule: Schedule | None = None
    urgent: bool = Field(False, description="send even in learners' quiet hours")

    def text_for(self, locale: str) -> str:
        return self.text.get(locale) or self.text[self.fallback_locale]

    def label_for(self, button: BroadcastButton, locale: str) -> str:
        return (
            button.label.get(locale)
            or button.label.get(self.fallback_locale)
            or next(iter(button.label.values()))
        )


def load_broadcast(
    path: Path, library: Library | None = None
) -> tuple[BroadcastFile | None, list[Diagnostic]]:
    """A validated broadcast file, and every problem in it at `path:line:col`.

    Never raises for a bad file: one that can't be read (a link to nowhere, a folder named
    `*.yaml`, a huge file) is one error on its path, and the other broadcasts still load.
    """
    src = read_file(path)
    found = validate(src, BroadcastFile)
    if found is not None:
        _check(src, found, path.parent, library)
    errors = any(d.severity is Severity.ERROR for d in src.problems)
    return (None if errors else found), src.problems


def _check(src: Source, found: BroadcastFile, folder: Path, library: Library | None) -> None:
    if found.fallback_locale not in found.text:
        src.error(
            src.place_of(("fallback_locale",)),
            f"there is no `{found.fallback_locale}` text to fall back to; add it under "
            "`text:` or change `fallback_locale:`",
        )
    limit = tx.TELEGRAM_CAPTION_LIMIT if found.media else tx.TELEGRAM_TEXT_LIMIT
    for locale, body in found.text.items():
        path = ("text", locale)
        for problem in tx.check_html(body) + tx.check_placeholders(body, {"first_name"}):
            src.error(src.place_in_text(path, problem.offset, body), problem.message)
        length = tx.visible_length(body)
        if length > limit:
            what = "a photo caption" if found.media else "a message"
            src.error(
                src.place_of(path),
                f"text is {length} characters; Telegram allows {limit} in {what}",
            )
    for i, button in enumerate(found.buttons):
        for locale, label in button.label.items():
            for problem in tx.check_label(label):
                src.error(src.place_of(("buttons", i, "label", locale)), problem.message)
        if button.lesson and library is not None:
            course, _, lesson = button.lesson.partition("/")
            if library.lesson(course, lesson) is None:
                src.error(
                    src.place_of(("buttons", i, "lesson")),
                    f"no lesson `{button.lesson}`; write course-id/lesson-id",
                )
    if found.media:
        try:
            media_file(folder, found.media)
        except MediaError as exc:
            src.error(src.place_of(("media",)), str(exc))


class MediaError(LessonBotError):
    """A broadcast's photo is outside its folder, missing, or not the file that was checked."""


def media_file(folder: Path, media: str) -> Path:
    """The photo `media:` names, as the sender must upload it: resolved, links followed.

    The same confinement as lessons' media (`bot.content.checks.inside`): it must lie inside
    `folder`, the broadcast file's folder, so an absolute or `../` path, or a link to a file
    elsewhere, can't make the bot upload /etc/passwd or its own database. MediaError says why
    and what to do otherwise.
    """
    photo = inside(folder, media)
    if photo is None:
        raise MediaError(
            f"media `{media}` is not inside the broadcasts folder {folder} (or is a link to a "
            "file outside it); copy the photo into that folder and name it relative to it, "
            "like `media: poster.jpg`"
        )
    if not photo.is_file():
        raise MediaError(
            f"media file `{media}` not found in {folder}; check the name (it is relative to "
            "the broadcasts folder)"
        )
    return photo


def changed_photo(photo: Path) -> str | None:
    """Why `photo`, resolved by `media_file` when its broadcast was queued, must not be
    uploaded now; None if it is still that file.

    A scheduled or resumed broadcast is sent long after it was checked: in the meantime the
    photo may have been replaced by a link (to /etc/passwd, to the database). Resolved again,
    it must still be itself: no link anywhere in its path, and a file.
    """
    if inside(photo.parent, photo.name) == photo and photo.is_file():
        return None
    # The path goes last: a recipient's stored error is cut at 300 characters, and a long
    # deployment path must not cut off what the admin should do.
    return (
        "the photo was not uploaded: it is no longer the file checked when this broadcast was "
        "queued (replaced by a link, moved or deleted); put it back in the broadcasts folder "
        f"and send the broadcast again ({photo})"
    )


@dataclass
class CheckedPhotos:
    """A Deliverer that uploads a broadcast photo only while `changed_photo` finds it unchanged.

    Otherwise the send fails with the reason (the admin's summary and `lessonbot broadcast
    status` list it, and it is logged once): nothing is uploaded.
    """

    inner: Deliverer
    channel: str = field(init=False)
    capabilities: Capabilities = field(init=False)
    _refused: set[Path] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.channel = self.inner.channel
        self.capabilities = self.inner.capabilities

    async def send(
        self,
        external_id: str,
        text: str,
        keyboard: list[list[tuple[str, str]]],
        photo: Path | None,
        photo_id: str | None = None,
        *,
        proactive: Proactive | None = None,
    ) -> Delivered:
        if photo is not None and photo_id is None:  # an upload, not a reuse of the channel's copy
            problem = changed_photo(photo)
            if problem is not None:
                if photo not in self._refused:
                    self._refused.add(photo)
                    log.error("broadcast photo refused: %s", problem)
                raise Rejected(problem)
        return await self.inner.send(
            external_id, text, keyboard, photo, photo_id, proactive=proactive
        )
