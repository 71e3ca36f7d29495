"""A lesson's picture, file or recorded clip, uploaded to a platform once and then sent by the
id it gave; and what of a message's media an app can send at all.

WhatsApp, Messenger and Zalo all keep an upload for a while and send it by id. The id is
remembered per file content and per `period` (the digest it is stored under includes which
period it is), so a changed file is uploaded again, and an id in use is never older than two
periods: keep `period` under half of how long the platform keeps uploads. A file made for one
learner (a certificate) has nothing to reuse and is uploaded each time.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import Capabilities
from bot.engine.outputs import Media, Say
from bot.store import LearnerStore

# (file name, content, MIME type) -> the platform's id for the upload
Upload = Callable[[str, bytes, str], Awaitable[str]]
# A clip's content type by its extension (bot/content/audio.py admits no others). Named here
# rather than guessed: `mimetypes` reads the system's tables, which differ (.m4a is missing
# from some, and some call .ogg application/ogg, which WhatsApp refuses).
AUDIO_TYPES = {".ogg": "audio/ogg", ".mp3": "audio/mpeg", ".m4a": "audio/mp4"}


def content_type(media: Media) -> str:
    """The MIME type a file of `media` is uploaded as."""
    suffix = Path(media.path).suffix.lower()
    if media.kind == "audio" and suffix in AUDIO_TYPES:
        return AUDIO_TYPES[suffix]
    default = "image/jpeg" if media.kind == "photo" else "application/octet-stream"
    return mimetypes.guess_type(media.path)[0] or default


def is_voice(media: Media) -> bool:
    """A clip in Ogg Opus, which the apps show as a voice message (bot/content/audio.py checks
    that a .ogg clip is Opus inside)."""
    return media.kind == "audio" and Path(media.path).suffix.lower() == ".ogg"


def sendable(message: Say, caps: Capabilities) -> Say:
    """`message` as the app can take it: without media of a kind it cannot send (a clip on
    LINE or Zalo), so the text goes alone rather than the whole message failing. A message
    that was only such media has nothing left, and its sender sends nothing for it."""
    if message.media is None or message.media.kind in caps.media:
        return message
    return Say(message.text, message.buttons)


def is_empty(message: Say) -> bool:
    """Nothing to show: no text, no choices, no media."""
    return not message.text.strip() and not message.buttons and message.media is None


async def uploaded_id(
    store: LearnerStore,
    channel: str,
    media: Media,
    upload: Upload,
    *,
    now: datetime,
    period: timedelta,
) -> str:
    """The platform's id for `media`, uploading it only if this period has none yet."""
    name = Path(media.path).name
    mime = content_type(media)
    if media.data is not None:
        return await upload(name, media.data, mime)
    data = Path(media.path).read_bytes()
    which = int(now.timestamp() // period.total_seconds())
    digest = hashlib.sha256(data + f"\x00{which}".encode()).hexdigest()
    known = await store.media_id(channel, media.path, digest)
    if known is not None:
        return known
    media_id = await upload(name, data, mime)
    await store.remember_media(channel, media.path, digest, media_id)
    return media_id
