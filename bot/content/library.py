"""The loaded, validated content: courses and their lessons, with lookups the engine needs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.content.model import Course, HotlineFile, Lesson, SchemeFile, Step


def digest(*parts: str, size: int = 6) -> str:
    """A short, stable, URL-safe name for `parts`, small enough for Telegram's button data."""
    raw = hashlib.blake2s("\x1f".join(parts).encode(), digest_size=size).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class LoadedLesson:
    course_id: str
    lesson: Lesson
    path: str
    # Changes whenever the file's content changes, so buttons sent before an edit are recognised
    # as stale rather than pressed against steps that now mean something else.
    version: str
    _index: Mapping[str, int] = field(repr=False, compare=False)
    # (locale, step id) -> a recorded clip of that step in that locale (bot/content/audio.py)
    audio: Mapping[tuple[str, str], str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    @property
    def id(self) -> str:
        return self.lesson.id

    @property
    def key(self) -> str:
        return f"{self.course_id}/{self.lesson.id}"

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.lesson.steps

    def index_of(self, step_id: str) -> int | None:
        return self._index.get(step_id)

    def clip(self, locale: str, step_id: str) -> str | None:
        """The file of the step's recorded clip in `locale`, if a partner recorded one."""
        return self.audio.get((locale, step_id))

    @classmethod
    def build(
        cls,
        course_id: str,
        lesson: Lesson,
        path: str,
        raw: bytes,
        audio: Mapping[tuple[str, str], str] | None = None,
    ) -> LoadedLesson:
        index = MappingProxyType({s.id: i for i, s in enumerate(lesson.steps)})
        version = digest(raw.decode("utf-8", "replace"), size=3)
        return cls(course_id, lesson, path, version, index, MappingProxyType(dict(audio or {})))


@dataclass(frozen=True)
class LoadedCourse:
    course: Course
    path: str
    lessons: tuple[LoadedLesson, ...]  # in the course's order; only the files that loaded
    schemes: tuple[SchemeFile, ...] = ()  # the course's directory of programmes, per country
    hotlines: tuple[HotlineFile, ...] = ()  # and of lines for reporting a scam

    @property
    def id(self) -> str:
        return self.course.id

    def lesson(self, lesson_id: str) -> LoadedLesson | None:
        return next((le for le in self.lessons if le.id == lesson_id), None)

    def after(self, lesson_id: str) -> LoadedLesson | None:
        ids = [le.id for le in self.lessons]
        if lesson_id not in ids:
            return None
        i = ids.index(lesson_id)
        return self.lessons[i + 1] if i + 1 < len(self.lessons) else None


@dataclass(frozen=True)
class Library:
    courses: tuple[LoadedCourse, ...]
    _by_digest: Mapping[str, LoadedCourse | LoadedLesson] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        table: dict[str, LoadedCourse | LoadedLesson] = {}
        for course in self.courses:
            table[digest(course.id)] = course
            for lesson in course.lessons:
                table[digest(lesson.key)] = lesson
        object.__setattr__(self, "_by_digest", MappingProxyType(table))

    def course(self, course_id: str) -> LoadedCourse | None:
        return next((c for c in self.courses if c.id == course_id), None)

    def listed_courses(self) -> list[LoadedCourse]:
        """The courses in the menu; unlisted ones (the follow-up survey) are reached by link."""
        return [c for c in self.courses if c.course.listed]

    def lesson(self, course_id: str, lesson_id: str) -> LoadedLesson | None:
        course = self.course(course_id)
        return course.lesson(lesson_id) if course else None

    def by_digest(self, key: str) -> LoadedCourse | LoadedLesson | None:
        return self._by_digest.get(key)

    def schemes_for(self, country: str) -> list[tuple[str, SchemeFile]]:
        """(course id, directory) for every course with programmes listed for `country`."""
        return [
            (course.id, found)
            for course in self.courses
            for found in course.schemes
            if found.country == country
        ]

    def hotlines_for(self, country: str) -> list[tuple[str, HotlineFile]]:
        """(course id, directory) for every course with reporting lines for `country`."""
        return [
            (course.id, found)
            for course in self.courses
            for found in course.hotlines
            if found.country == country
        ]
