"""Signed button data: a press can't be forged, or replayed by another learner.

The engine's token is followed by a short HMAC over the learner's id on the channel and the
token, keyed from the channel's secret. Telegram allows 64 bytes of callback data (tokens are
at most 53, the tag adds 9); WhatsApp's reply ids take 200 or more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

CALLBACK_LIMIT = 64
_SEP = "~"


def key_from_token(bot_token: str) -> bytes:
    """The signing key, from a secret only this deployment holds (a bot token, an app secret)."""
    return hashlib.sha256(b"lessonbot/callback/v1\x00" + bot_token.encode()).digest()


def _tag(key: bytes, user_id: int | str, token: str) -> str:
    mac = hmac.new(key, f"{user_id}:{token}".encode(), hashlib.sha256).digest()[:6]
    return base64.urlsafe_b64encode(mac).decode()


def sign(key: bytes, user_id: int | str, token: str) -> str:
    data = f"{token}{_SEP}{_tag(key, user_id, token)}"
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"button data over {CALLBACK_LIMIT} bytes: {data!r}")
    return data


def verify(key: bytes, user_id: int | str, data: str) -> str | None:
    """The engine token if the signature is right for this learner, else None."""
    token, sep, tag = data.rpartition(_SEP)
    # Bytes: compare_digest refuses str with non-ASCII characters, and forged data may have any.
    if not sep or not hmac.compare_digest(tag.encode(), _tag(key, user_id, token).encode()):
        return None
    return token
