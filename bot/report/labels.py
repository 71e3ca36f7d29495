"""Words for the codes the database stores, and plain text from lesson files.

A funder reads "Indonesia", "Filipino" and "Prefer not to say", not "ID", "fil" and "skip".
Lesson texts are Telegram HTML written by authors; the report shows them as plain text (the
HTML page escapes them again when it prints them).
"""

from __future__ import annotations

import html
import re
from functools import cache

from babel import Locale, UnknownLocaleError

from bot.content.library import Library
from bot.content.text import ALLOWED_TAGS

NOT_GIVEN = "Not given"
NOT_ASKED = "Not asked"
PREFER_NOT = "Prefer not to say"

DIMENSION_TITLES = {
    "country": "Country",
    "channel": "Channel",
    "locale": "Language",
    "consent": "Agreed to the profile questions",
    "gender": "Gender",
    "age_group": "Age group",
    "business": "Business",
    "disability": "Person with a disability",
    "minority": "Ethnic minority or Indigenous",
}

VALUE_LABELS = {
    "consent": {"": "Not asked yet", "yes": "Yes", "no": "No"},
    "gender": {"woman": "Women", "man": "Men", "other": "Another gender"},
    "age_group": {
        "under-15": "Under 15",  # offered before the bands followed the youth band
        "15-24": "15–24",
        "18-24": "18–24",
        "25-35": "25–35",
        "36-50": "36–50",
        "51+": "51 or older",
    },
    "business": {
        "food": "Food and drinks",
        "retail": "Shop or reselling",
        "crafts": "Crafts, clothes or beauty",
        "services": "Services",
        "farming": "Farming or fishing",
        "other": "Something else",
        "none": "No business yet",
    },
    "disability": {"yes": "Yes", "no": "No"},
    "minority": {"yes": "Yes", "no": "No"},
}

# The order categories are listed in; anything else follows, then "prefer not to say" and
# "not asked". Channels, like countries, have no fixed order: the biggest comes first.
VALUE_ORDER = {name: tuple(labels) for name, labels in VALUE_LABELS.items()}

# `Learner.channel` as a reader knows it; a channel not listed here shows as it is stored.
CHANNEL_NAMES = {
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "line": "LINE",
    "messenger": "Messenger",
    "zalo": "Zalo",
    "console": "Terminal",  # `lessonbot chat`
}

_ALLOWED_TAG = re.compile(rf"</?({'|'.join(sorted(ALLOWED_TAGS))})(\s[^<>]*)?>")
_SPACE = re.compile(r"\s+")


@cache
def country_name(code: str) -> str:
    return str(Locale("en").territories.get(code, code))


@cache
def language_name(code: str) -> str:
    try:
        return str(Locale.parse(code).get_display_name("en") or code)
    except (UnknownLocaleError, ValueError):
        return code


def channel_name(code: str) -> str:
    return CHANNEL_NAMES.get(code, code)


def channel_code(name: str) -> str:
    """What `--channel` was given, as stored: "WhatsApp" and "whatsapp" are "whatsapp"."""
    wanted = name.strip()
    for code, shown in CHANNEL_NAMES.items():
        if wanted.lower() in (code, shown.lower()):
            return code
    return wanted


def value_label(dimension: str, value: str | None) -> str:
    """How a funder reads one stored value of a learner column."""
    if dimension == "channel" and value is not None:
        return channel_name(value)
    if value is None:
        return NOT_GIVEN if dimension == "country" else NOT_ASKED
    if value == "skip":
        return PREFER_NOT
    if dimension == "country":
        return country_name(value)
    if dimension == "locale":
        return language_name(value)
    return VALUE_LABELS.get(dimension, {}).get(value, value)


def plain(text: str, limit: int = 0) -> str:
    """Lesson text without Telegram's formatting tags, on one line, cut at `limit` characters.

    Only the tags lessons may use are removed; anything else that looks like a tag is text
    and stays, to be escaped like all text when it is printed.
    """
    flat = _SPACE.sub(" ", html.unescape(_ALLOWED_TAG.sub("", text))).strip()
    if limit and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def course_title(library: Library, course_id: str) -> str:
    course = library.course(course_id)
    return plain(course.course.title) if course else course_id


def lesson_title(library: Library, course_id: str, lesson_id: str) -> str:
    lesson = library.lesson(course_id, lesson_id)
    return plain(lesson.lesson.title) if lesson else lesson_id
