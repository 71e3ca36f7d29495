"""Sending on a channel with a free-messaging window: one rule, for every such channel.

WhatsApp (24 h, then approved templates), Messenger (24 h, then nothing) and Zalo (48 h and 8
replies, then counted proactive messages) differ only in what they allow once the window is
closed. `WindowedSender` keeps the rule; each channel's `Platform` says how to send inside the
window and what may go outside it:
- inside (the learner wrote within the window, less a safety margin for clocks and the time an
  update waited in our inbox, and fewer than `window_replies` messages went since), the
  messages go out free-form;
- outside, `Platform.outside` sends what the platform allows there or raises NotAllowed or
  OverQuota, with the reason, for whoever sent it to record;
- when the platform itself says the window is closed (its clock and ours differ), the rest of
  the messages go the outside way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from bot.channels.capabilities import Capabilities
from bot.channels.delivery import Delivered, DeliveryError, NotAllowed, PartlySent, Proactive
from bot.channels.media import is_empty, sendable
from bot.engine import Say
from bot.engine.outputs import Button
from bot.store import LearnerStore
from bot.store.windows import Windows

log = logging.getLogger(__name__)
__all__ = ["PartlySent", "Platform", "WindowClosed", "WindowedSender", "one_by_one"]

# The window as we count it is this much shorter than the platform's: our clock and theirs
# differ, and `last_active_at` is when we handled the message, which can be later than when it
# was sent.
MARGIN = timedelta(minutes=10)
# Remembered in memory: whoever wrote lately, so a reply needs no database read to know the
# window is open. Bounded; the store answers for anyone not here.
RECENT_LIMIT = 100_000


class WindowClosed(NotAllowed):
    """The platform says the window is closed, whatever our own clock thought."""


class Platform(Protocol):
    """One windowed channel's client, as `WindowedSender` drives it."""

    capabilities: Capabilities

    async def free(self, address: str, messages: Sequence[Say]) -> Delivered:
        """Inside the window: send `messages` in order. After some went out, a failure is
        raised as PartlySent; the platform saying the window is closed, as WindowClosed."""
        ...

    async def outside(
        self,
        address: str,
        messages: Sequence[Say],
        proactive: Proactive | None,
        locale: str,
        now: datetime,
    ) -> Delivered:
        """The window is closed: send what the platform allows there (a template for
        `proactive`'s purpose, a counted proactive message), or raise NotAllowed/OverQuota."""
        ...

    async def picture(self, address: str, photo: Path, photo_id: str | None) -> str:
        """A broadcast photo, by `photo_id` or uploaded when it is None; the id to reuse."""
        ...

    async def close(self) -> None: ...


async def one_by_one(
    messages: Sequence[Say], send_one: Callable[[Say], Awaitable[Delivered]]
) -> Delivered:
    """Send each message in turn; a failure after the first is raised as PartlySent."""
    delivered = Delivered("")
    for sent, message in enumerate(messages):
        try:
            delivered = await send_one(message)
        except DeliveryError as exc:
            if sent:
                raise PartlySent(sent, exc) from exc
            raise
    return delivered


def _fitting(messages: Sequence[Say], room: int) -> int:
    """How many of `messages`, from the first, fit in `room` free messages: those with
    nothing to send (is_empty) take no room."""
    for i, message in enumerate(messages):
        if not is_empty(message):
            if room == 0:
                return i
            room -= 1
    return len(messages)


def keyboard_message(text: str, keyboard: list[list[tuple[str, str]]]) -> Say:
    """A broadcast's text and buttons (label, engine token or link) as an engine message. A
    link is written into the text: these channels' quick replies and reply buttons carry
    no links."""
    links = [f"{label}: {data}" for row in keyboard for label, data in row if _is_link(data)]
    buttons = tuple(
        tuple(Button(label, data) for label, data in row if not _is_link(data)) for row in keyboard
    )
    body = "\n\n".join([text, *links]) if links else text
    return Say(body, tuple(row for row in buttons if row))


def _is_link(data: str) -> bool:
    return data.startswith(("https://", "http://"))


@dataclass
class _Heard:
    at: datetime
    replies: int = 0  # messages sent in the window since
    closed: bool = False  # the platform said the window is closed before our count did


@dataclass
class WindowedSender:
    """A `Deliverer` for a channel with a window, and the service's sender of replies."""

    platform: Platform
    store: LearnerStore
    key: bytes  # signs button ids: a reply can't name another learner's button
    channel: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _heard: dict[str, _Heard] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.capabilities = self.platform.capabilities
        self.windows = Windows(self.store.engine, self.channel)

    # -- the window ----------------------------------------------------------------------------

    def heard(self, address: str, at: datetime) -> None:
        """The learner wrote at `at`: their window opens again, with its replies all free."""
        known = self._heard.get(address)
        if known is not None and known.at > at:
            return  # an older message, handled late: the window runs from the newer one
        if len(self._heard) >= RECENT_LIMIT:
            self._heard.clear()  # cheaper than an LRU, and the store still knows
        self._heard[address] = _Heard(at)

    def _room(self, heard: _Heard | None, now: datetime) -> int:
        """How many messages may still go free-form (0: the window is closed)."""
        caps = self.capabilities
        if caps.window is None:
            return 1 << 30
        if heard is None or heard.closed or now >= heard.at + caps.window - MARGIN:
            return 0
        if caps.window_replies is None:
            return 1 << 30
        return max(0, caps.window_replies - heard.replies)

    async def _window(self, address: str) -> tuple[_Heard | None, str]:
        """What we know of the learner's window, and their locale (read only when needed)."""
        known = self._heard.get(address)
        if known is not None and self._room(known, self.clock()):
            return known, ""
        last = await self.windows.last_heard(address)
        if last.at is None:
            return None, last.locale
        if known is None or last.at > known.at:
            # Another process heard them (the web server, for the worker): a count we can't
            # know starts at 0, and the platform refusing the 9th is the safety net.
            known = self._heard[address] = _Heard(last.at)
        return known, last.locale

    # -- sending -------------------------------------------------------------------------------

    async def deliver(
        self, address: str, messages: Sequence[Say], proactive: Proactive | None = None
    ) -> Delivered:
        """Send `messages` within the channel's rules; PartlySent if only some went out."""
        if not messages:
            return Delivered("")
        # Media the app can't send (a clip on Zalo) is left out, and the text goes alone. A
        # message that was only that has nothing to send: it takes no reply of the window.
        messages = [sendable(m, self.capabilities) for m in messages]
        now = self.clock()
        heard, locale = await self._window(address)
        room = self._room(heard, now)
        free = messages[: _fitting(messages, room)]
        sent = 0
        if free:
            try:
                delivered = await self.platform.free(address, free)
                sent = len(free)
            except WindowClosed:
                sent = 0
            except PartlySent as exc:
                if not isinstance(exc.cause, WindowClosed):
                    raise
                sent = exc.sent
            if heard is not None:
                heard.replies += sum(not is_empty(m) for m in messages[:sent])
            if sent == len(messages):
                return delivered
            if sent < len(free) and heard is not None:
                # The platform says the window is closed (or its replies used up): so it is,
                # until the learner writes again, without asking the platform each time.
                heard.closed = True
            locale = locale or (await self.windows.last_heard(address)).locale
        try:
            return await self.platform.outside(address, messages[sent:], proactive, locale, now)
        except DeliveryError as exc:
            if sent:
                raise PartlySent(sent, exc) from exc
            raise

    async def reply(self, address: str, messages: Sequence[Say]) -> None:
        """The service's `Send`: the replies to what the learner just wrote."""
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
        """`Deliverer.send`: a broadcast or a reminder. A broadcast photo goes by the id its
        first upload returned, so it travels once; outside the window the text goes alone
        (what carries it there, a template or a proactive message, has no photo)."""
        message = keyboard_message(text, keyboard)
        if photo is not None:
            heard, _ = await self._window(external_id)
            if self._room(heard, self.clock()) >= 2:
                photo_id = await self.platform.picture(external_id, photo, photo_id)
                if heard is not None:
                    heard.replies += 1
                sent = await self.deliver(external_id, [message], proactive)
                return Delivered(sent.message_id, photo_id)
        return await self.deliver(external_id, [message], proactive)

    async def close(self) -> None:
        await self.platform.close()
