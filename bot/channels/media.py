"""A lesson's picture or file, uploaded to a platform once and then sent by the id it gave.

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

from bot.engine.outputs import Media
from bot.store import LearnerStore

# (file name, content, MIME type) -> the platform's id for the upload
Upload = Callable[[str, bytes, str], Awaitable[str]]


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
    default = "image/jpeg" if media.kind == "photo" else "application/octet-stream"
    mime = mimetypes.guess_type(media.path)[0] or default
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
