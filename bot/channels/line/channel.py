"""The LINE channel: stored webhook events in, engine events out, replies sent by LineSender.

The inbox worker hands each stored event here, one learner's in order; the SDK's webhook models
(`linebot.v3.webhooks`) read it. Event types (developers.line.biz/en/reference/messaging-api/
#webhook-event-objects, checked 2026-12-03):
- message: text is what the learner typed (a /command or an answer); a sticker, photo,
  voice note or location is Unsupported, which the engine answers gently;
- postback: a quick reply tapped; its data is an engine token signed for this learner, so a
  forged or another learner's press is refused (an empty Press, which the engine ignores);
- follow: the learner added the bot (or unblocked it): as /start;
- unfollow: the learner blocked the bot: marked "blocked", so nothing more is sent.
Message, postback and follow events carry a reply token, given to the sender first so the
replies to this event go free. The learner's display name and language come from their
profile, read once per process per learner (LINE answers 404 for a user who blocked us).
"""

from __future__ import annotations

import logging
from typing import Any

from linebot.v3.webhooks import (
    Event as LineEvent,
)
from linebot.v3.webhooks import (
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)

from bot.channels.line.client import Profile
from bot.channels.line.incoming import CHANNEL, event_key, received_at
from bot.channels.line.sender import LineSender
from bot.channels.signing import verify
from bot.channels.typed import typed_event
from bot.engine import Event, Press, Start, Unsupported
from bot.service import LessonService
from bot.store import Identity

log = logging.getLogger(__name__)
COUNTRY = "TH"  # the programme's LINE learners are in Thailand
PROFILES_KEPT = 50_000


class LineChannel:
    def __init__(self, service: LessonService, sender: LineSender) -> None:
        self.service = service
        self.sender = sender
        self._profiles: dict[str, Profile] = {}
        service.senders[CHANNEL] = sender.reply

    async def handle(self, update: dict[str, Any]) -> None:
        """Handle one stored event. A shape the SDK can't read raises (the inbox sets it
        aside); anything else is logged, and the learner told by the service."""
        kind = update.get("type")
        if kind == "message" and not isinstance(update.get("message"), dict):
            raise ValueError("a message event without its message")
        try:
            event = LineEvent.from_dict(update)
        except ValueError:
            if kind != "message":
                raise
            # A message type (or field) newer than the SDK: something we can't read, answered
            # as such.
            event = None
        if event is not None and str(getattr(event.mode, "value", event.mode)) != "active":
            return  # standby: another channel module answers this chat
        user = str(update["source"]["userId"])
        if isinstance(event, UnfollowEvent):
            log.info("LINE learner %s blocked the bot", user)
            await self.service.store.set_status(Identity(CHANNEL, user), "blocked")
            return
        token = update.get("replyToken") if event is None else getattr(event, "reply_token", "")
        if token:
            self.sender.heard(user, str(token), received_at(update))
        profile = await self._profile(user)
        who = Identity(CHANNEL, user, profile.display_name, profile.language, country_hint=COUNTRY)
        try:
            key = event_key(str(update["webhookEventId"]))
            await self.service.handle(who, self._event(user, event, update), update_key=key)
        except Exception:
            log.exception("unhandled error for LINE event from %s", user)

    def _event(self, user: str, event: LineEvent | None, update: dict[str, Any]) -> Event:
        if isinstance(event, FollowEvent):
            return Start("")
        if isinstance(event, PostbackEvent):
            token = verify(self.sender.key, user, str(event.postback.data or ""))
            if token is None:
                log.warning("refused a forged LINE postback from %s", user)
            return Press(token or "")
        if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
            return typed_event(str(event.message.text or ""))
        return Unsupported(str((update.get("message") or {}).get("type") or kind_of(update)))

    async def _profile(self, user: str) -> Profile:
        known = self._profiles.get(user)
        if known is not None:
            return known
        try:
            found = await self.sender.api.profile(user) or Profile("", "")
        except Exception as exc:  # a name is nice to have; the lesson goes on without it
            log.info("could not read the LINE profile of %s: %s", user, exc)
            return Profile("", "")
        if len(self._profiles) >= PROFILES_KEPT:
            self._profiles.clear()
        self._profiles[user] = found
        return found


def kind_of(update: dict[str, Any]) -> str:
    return str(update.get("type") or "unknown")
