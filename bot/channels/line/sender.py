"""Sending on LINE: free replies while the reply token lasts, counted pushes otherwise.

LINE has no messaging window. What it has (developers.line.biz/en/reference/messaging-api/
#send-reply-message, #send-push-message, docs/messaging-api/retrying-api-request/, checked
2026-12-03):
- a reply token per message, postback and follow event: free, single use, at most 5 message
  objects, valid for a minute after the webhook. `LineSender.reply` puts one turn's replies in
  that one call while they fit and the token is fresh (we give it half the minute, for clocks and
  the time the event waited in our inbox), and pushes the rest, 5 message objects per call.
  A reply LINE refused as rate-limited (429: not processed) keeps its token for the retry; one
  that failed otherwise (a 5xx: maybe delivered) does not, and the retry is a push;
- pushes count against the plan's monthly quota, read from the API (cached a minute, and
  counted down by our own pushes in between, reserved before each goes so a broadcast's
  concurrent sends can't all take the last one). LINE counts a push once per recipient,
  whatever its message objects (developers.line.biz/en/tips/2026/05/28/how-to-count-messages/).
  When the quota is used up the push is not attempted: OverQuota until the first day of next
  month (UTC, which is after the month has turned in Thailand and Japan), so a broadcast stops
  at the quota and its remaining rows wait; `allowance()` tells the dry run what is left;
- every push carries an X-Line-Retry-Key. A push that failed (a 5xx, a timeout) keeps its key,
  and the retry of the same messages to the same learner reuses it: if the first attempt did
  go out, LINE answers 409 (kept 24 hours) and sends nothing twice. The keys are kept in
  memory: after a restart a retry gets a new key, and a push lost in the crash may go twice.

Pictures: LINE sends images only by HTTPS URL (originalContentUrl, previewImageUrl), and has
no upload. This deployment has no public URL to serve lesson images or certificates from, so a
message with a picture goes as its text alone (a certificate's caption carries its code, which
anyone can check with /verify), and the first such message logs that pictures need hosting.
A step's recorded clip would need hosting too (an audio message is an HTTPS URL and a
duration), so it is left out and its step's text goes as always.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.channels.capabilities import LINE, Capabilities
from bot.channels.delivery import (
    Delivered,
    DeliveryError,
    OverQuota,
    Proactive,
    RetryLater,
    Transient,
)
from bot.channels.line.client import InvalidReplyToken, LineApi, Message, Quota, next_month
from bot.channels.line.render import render
from bot.channels.media import sendable
from bot.channels.signing import sign
from bot.channels.window import PartlySent, keyboard_message
from bot.engine import Say

log = logging.getLogger(__name__)
CHANNEL = "line"
PER_CALL = 5  # message objects per reply or push
REPLY_TOKEN_BUDGET = timedelta(seconds=30)  # of LINE's minute
QUOTA_CACHE = timedelta(minutes=1)
RECENT_LIMIT = 100_000
_pictures_logged = False


def _log_pictures_once() -> None:
    global _pictures_logged
    if not _pictures_logged:
        _pictures_logged = True
        log.warning(
            "LINE sends pictures only by public HTTPS URL, and this deployment has none: "
            "lesson images and certificates go as their text alone"
        )


@dataclass(frozen=True)
class _Chunk:
    """One call's message objects, and how many of the batch's Says are whole once it is sent."""

    messages: list[Message]
    done: int


@dataclass
class _Token:
    token: str
    at: datetime


@dataclass
class LineSender:
    """The LINE `Deliverer`, and the service's sender of replies."""

    api: LineApi
    key: bytes  # signs postback data: a tap can't name another learner's button
    capabilities: Capabilities = LINE
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    channel: str = CHANNEL
    _tokens: dict[str, _Token] = field(default_factory=dict, init=False, repr=False)
    _retry_keys: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False)
    _quota: Quota | None = field(default=None, init=False, repr=False)
    _quota_read: datetime | None = field(default=None, init=False, repr=False)
    _pushed: int = field(default=0, init=False, repr=False)  # since the quota was read
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    # -- what the learner gave us to answer with ------------------------------------------------

    def heard(self, address: str, reply_token: str, at: datetime) -> None:
        """An event from the learner came at `at` with `reply_token`: the next reply uses it."""
        known = self._tokens.get(address)
        if known is not None and known.at > at:
            return
        if len(self._tokens) >= RECENT_LIMIT:
            self._tokens.clear()
        self._tokens[address] = _Token(reply_token, at)

    def _take_token(self, address: str) -> _Token | None:
        """The learner's reply token if it is still fresh; it is used up either way."""
        known = self._tokens.pop(address, None)
        if known is None or self.clock() - known.at > REPLY_TOKEN_BUDGET:
            return None
        return known

    # -- the monthly quota ----------------------------------------------------------------------

    async def allowance(self) -> int | None:
        """Pushes left this month (None: the plan has no limit), read from LINE."""
        async with self._reading:  # a broadcast's concurrent sends read it once
            now = self.clock()
            read = self._quota_read
            if self._quota is None or read is None or now - read > QUOTA_CACHE:
                self._quota, self._quota_read, self._pushed = await self.api.quota(), now, 0
        left = self._quota.left
        return None if left is None else max(0, left - self._pushed)

    async def _reserve(self) -> None:
        """Count a push before it goes, so concurrent sends can't all take the last one."""
        if await self.allowance() == 0:
            assert self._quota is not None
            until = next_month(self.clock())
            raise OverQuota(
                f"LINE's monthly message quota ({self._quota.limit}) is used up; pushes go "
                f"again from {until:%Y-%m-%d}",
                until,
            )
        self._pushed += 1  # LINE counts a push once per recipient, whatever its objects

    # -- sending --------------------------------------------------------------------------------

    def _chunks(self, address: str, messages: Sequence[Say]) -> list[_Chunk]:
        """The batch's message objects in calls of at most 5, each ending on a whole Say where
        it can (a Say of more than 5 objects, a very long text, takes calls of its own)."""
        chunks: list[_Chunk] = []
        current: list[Message] = []
        for done, say in enumerate(messages, 1):
            say = sendable(say, self.capabilities)  # a clip: LINE plays none (capabilities)
            if say.media is not None:
                _log_pictures_once()
            objects = render(say, lambda token: sign(self.key, address, token), self.capabilities)
            if current and len(current) + len(objects) > PER_CALL:
                chunks.append(_Chunk(current, done - 1))
                current = []
            while len(objects) > PER_CALL:
                chunks.append(_Chunk(objects[:PER_CALL], done - 1))
                objects = objects[PER_CALL:]
            current += objects
        # A Say with nothing to show is whole with the call after it. `current` is empty here
        # only if every Say was: then one empty "call" marks them all done.
        chunks.append(_Chunk(current, len(messages)))
        return chunks

    async def deliver(self, address: str, messages: Sequence[Say], *, reply: bool = True) -> str:
        """Send `messages` in order: by the reply token while it lasts (with `reply`), then by
        push. PartlySent when only the first few Says went out; the id of the last message."""
        token = self._take_token(address) if reply else None
        done, last = 0, ""
        for chunk in self._chunks(address, messages):
            if not chunk.messages:
                done = chunk.done
                continue
            try:
                if token is not None:
                    used, token = token, None
                    try:
                        last = (await self.api.reply(used.token, chunk.messages) or [""])[-1]
                    except InvalidReplyToken:
                        last = await self._push(address, chunk.messages)
                    except RetryLater:
                        # LINE did not process it (a 429 never is): the token is still good
                        # for the retry, unless the learner wrote again meanwhile.
                        self._tokens.setdefault(address, used)
                        raise
                else:
                    last = await self._push(address, chunk.messages)
            except DeliveryError as exc:
                if done:
                    raise PartlySent(done, exc) from exc
                raise
            done = chunk.done
        return last

    async def _push(self, address: str, messages: list[Message]) -> str:
        await self._reserve()
        digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        slot = (address, digest)
        retry_key = self._retry_keys.get(slot) or str(uuid.uuid4())
        try:
            sent = await self.api.push(address, messages, retry_key)
        except OverQuota:
            self._pushed = 1 << 30  # LINE says so before our minute's cache does
            raise
        except DeliveryError as exc:
            self._pushed -= 1  # not processed (or, a 5xx, counted again when retried)
            if isinstance(exc, Transient):
                # It may have gone out with no answer back: the retry must carry the same key.
                if len(self._retry_keys) >= RECENT_LIMIT:
                    self._retry_keys.clear()
                self._retry_keys[slot] = retry_key
            raise
        self._retry_keys.pop(slot, None)
        return sent

    async def reply(self, address: str, messages: Sequence[Say]) -> None:
        """The service's `Send`: one turn's replies, as few calls as LINE allows."""
        await self.deliver(address, messages)

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
        """`Deliverer.send`: a broadcast or a reminder, by push (LINE has no window, so
        `proactive` changes nothing). A photo can't go (no public URL): the text goes alone."""
        if photo is not None:
            _log_pictures_once()
        sent = await self.deliver(external_id, [keyboard_message(text, keyboard)], reply=False)
        return Delivered(sent)

    async def close(self) -> None:
        await self.api.close()
