"""A Telegram update, reduced to what the bridge needs.

aiogram's and python-telegram-bot's Update objects both mirror the Bot API field names
(`message.from_user`, `callback_query.data`, `my_chat_member.new_chat_member.status`), so one
duck-typed reader serves both adapters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from bot.store.personal import FIRST_NAME_LIMIT, storable

Kind = Literal["text", "callback", "other", "edited", "member", "ignored"]

# An update is keyed "telegram:<update_id>" in the inbox, a column of 64 characters.
ID_DIGITS = 64 - len("telegram:")
_TOO_LONG: int = 10**ID_DIGITS  # the first id with more digits than that
_STAND_INS: int = 10 ** (ID_DIGITS - 1)  # the first of ID_DIGITS digits: stand-ins start here


@dataclass(frozen=True)
class Incoming:
    update_id: int
    kind: Kind
    user_id: int = 0
    chat_id: int = 0
    chat_type: str = "private"
    first_name: str = ""
    language: str = ""
    text: str = ""  # the message text, or the callback data
    callback_id: str = ""
    message_id: int = 0  # the bot message whose button was pressed
    member_status: str = ""  # the bot's new status in the chat: member, kicked, ...


def update_id(raw: Any) -> int:
    """The update's id, or for one too long for its inbox key, a stable stand-in: a digest of
    it, as a number of exactly `ID_DIGITS` digits (so never the id of an ordinary update)."""
    uid = int(raw)
    if -_STAND_INS < uid < _TOO_LONG:  # (a minus sign takes the place of a digit)
        return uid
    # Its bytes, not its digits: Python refuses to write an int of over 4300 digits as text.
    number = uid.to_bytes(uid.bit_length() // 8 + 1, "big", signed=True)
    digest = int.from_bytes(hashlib.sha256(number).digest(), "big")
    return _STAND_INS + digest % (_TOO_LONG - _STAND_INS)


def _who(user: Any, chat: Any) -> dict[str, Any]:
    # Names come as the person typed them in the app: clean (see `storable`), never refused.
    return {
        "user_id": int(user.id) if user else 0,
        "chat_id": int(chat.id) if chat else 0,
        "chat_type": str(getattr(chat.type, "value", chat.type)) if chat else "private",
        "first_name": storable(user.first_name or "", FIRST_NAME_LIMIT) if user else "",
        "language": storable(user.language_code or "") if user else "",
    }


def read_update(update: Any) -> Incoming:
    uid = update_id(update.update_id)
    if update.message is not None:
        msg = update.message
        who = _who(msg.from_user, msg.chat)
        if msg.text is not None:
            return Incoming(uid, "text", text=storable(msg.text), **who)
        return Incoming(uid, "other", **who)
    if update.edited_message is not None:
        msg = update.edited_message
        return Incoming(uid, "edited", **_who(msg.from_user, msg.chat))
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat = getattr(message, "chat", None)
        return Incoming(
            uid,
            "callback",
            text=storable(query.data or ""),
            callback_id=str(query.id),
            message_id=int(getattr(message, "message_id", 0) or 0),
            **_who(query.from_user, chat),
        )
    if update.my_chat_member is not None:
        member = update.my_chat_member
        status = member.new_chat_member.status
        return Incoming(
            uid,
            "member",
            member_status=str(getattr(status, "value", status)),
            **_who(member.from_user, member.chat),
        )
    return Incoming(uid, "ignored")
