"""A Telegram update, reduced to what the bridge needs.

aiogram's and python-telegram-bot's Update objects both mirror the Bot API field names
(`message.from_user`, `callback_query.data`, `my_chat_member.new_chat_member.status`), so one
duck-typed reader serves both adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["text", "callback", "other", "edited", "member", "ignored"]


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


def _who(user: Any, chat: Any) -> dict[str, Any]:
    return {
        "user_id": int(user.id) if user else 0,
        "chat_id": int(chat.id) if chat else 0,
        "chat_type": str(getattr(chat.type, "value", chat.type)) if chat else "private",
        "first_name": (user.first_name or "") if user else "",
        "language": (user.language_code or "") if user else "",
    }


def read_update(update: Any) -> Incoming:
    uid = int(update.update_id)
    if update.message is not None:
        msg = update.message
        who = _who(msg.from_user, msg.chat)
        if msg.text is not None:
            return Incoming(uid, "text", text=msg.text, **who)
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
            text=query.data or "",
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
