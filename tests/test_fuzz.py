"""Property and fuzz tests (hypothesis): hostile updates through the real bridge, service and
store; random edits of lesson YAML through the linter; random learners through the engine.

The Bot API here is an in-memory recorder that enforces Telegram's limits, so thousands of
updates run in seconds; the same bridge is driven over real HTTP by test_telegram_e2e.
CI runs 100 examples each; `HYPOTHESIS_PROFILE=deep python -m pytest tests/test_fuzz.py` runs
2,000 (conftest.py).
"""

from __future__ import annotations

import asyncio
import logging
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.signing import CALLBACK_LIMIT, key_from_token, sign
from bot.channels.telegram.api import Keyboard, Sent
from bot.channels.telegram.bridge import TelegramBridge
from bot.channels.telegram.incoming import Incoming
from bot.content import Library
from bot.content.text import TELEGRAM_TEXT_LIMIT, check_html, visible_length
from bot.engine import Command, Context, LearnerState, Press, Say, Start, Text, advance
from bot.engine.events import COMMANDS
from bot.i18n import Catalogs
from bot.lint import lint
from bot.service import NOT_SAVED, LessonService
from bot.store import LearnerStore, create_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:FUZZ-token"
CATALOGS = Catalogs(ROOT / "locales")

# Text a learner might send, hostile or not: every script we serve, right-to-left, zero-width
# and joiners, emoji, control characters, and sometimes a lot of it.
SCRIPTS = "ก่ข้ ក្ញ ກ່ ကြ် ệ ñ שָׁלוֹם مرحبا 👩🏽‍🌾🇹🇭 \u200b\u200c\u200d\u2066\u202e \x00\x07 ０１２"
texts = st.one_of(
    st.text(
        alphabet=st.sampled_from(SCRIPTS + string.ascii_letters + string.digits + " /"), max_size=60
    ),
    st.text(max_size=200),
    st.sampled_from(
        [
            "1",
            "2",
            "next",
            "Yes, ask me",
            "No, just the lessons",
            "/start",
            "/start online-safety",
            "/continue",
            "/delete",
            "/mydata",
            "/verify",
            "/verify AAAA-BBBB",
            "/stop",
            "/progress",
            "/language",
            "/help",
        ]
    ),
    st.builds(
        lambda s, n: s * n, st.sampled_from(["ก", "a", "😀", "\u200b"]), st.integers(1000, 6000)
    ),
)
forged = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "m:menu",
            "m:delete",
            "q:erase",
            "q:first-name",
            "p:gender=woman",
            "p:consent=yes",
            "g:th",
            "k:TH",
            "c:zzzz",
            "l:",
            "o:a:b:c:d",
            "a:x",
        ]
    ),
)


@dataclass
class Recorder:
    """The Bot API, in memory, refusing what Telegram would refuse."""

    username: str = "lessonbot_fuzz_bot"
    sent: list[tuple[int, str, Keyboard | None]] = field(default_factory=list)
    next_id: int = 1

    async def send_text(self, chat_id: int, text: str, keyboard: Keyboard | None) -> Sent:
        assert visible_length(text) <= TELEGRAM_TEXT_LIMIT, len(text)
        assert not check_html(text), (check_html(text), text[:200])
        for row in keyboard or []:
            for label, data in row:
                assert label.strip() and len(data.encode()) <= CALLBACK_LIMIT, (label, data)
        self.sent.append((chat_id, text, keyboard))
        self.next_id += 1
        return Sent(self.next_id)

    async def send_media(self, chat_id: int, kind: str, file_id: str | None, path: str) -> Sent:
        return Sent(self.next_id, "file")

    async def send_upload(self, chat_id: int, kind: str, filename: str, data: bytes) -> Sent:
        assert data
        return Sent(self.next_id, "file")

    async def answer_callback(self, callback_id: str) -> None:
        return None

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None:
        return None

    async def set_commands(self, commands: list[tuple[str, str]], language: str | None) -> None:
        return None

    async def set_menu_button(self) -> None:
        return None

    async def set_webhook(self, url: str, secret: str) -> None:
        return None

    async def delete_webhook(self) -> None:
        return None


@dataclass(frozen=True)
class Step:
    user: int
    kind: str  # text | callback | replay | signed | other | edited | group
    payload: str
    update_id: int


steps = st.lists(
    st.builds(
        Step,
        st.sampled_from([11, 12]),
        st.sampled_from(
            [
                "text",
                "text",
                "text",
                "callback",
                "replay",
                "signed",
                "signed",
                "other",
                "edited",
                "group",
            ]
        ),
        st.one_of(texts, forged),
        st.integers(1, 40),
    ),
    min_size=1,
    max_size=25,
)


async def drive(library: Library, db: Path, plan: list[Step]) -> Recorder:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await upgrade(engine)
    api = Recorder()
    service = LessonService(library, LearnerStore(engine), CATALOGS, CATALOGS.languages())
    bridge = TelegramBridge(service, api, TOKEN, max_attempts=1)
    key = key_from_token(TOKEN)
    seen: list[Incoming] = []
    try:
        for step in plan:
            buttons = [
                data
                for chat, _, kb in api.sent
                if chat == step.user
                for row in kb or []
                for _, data in row
            ]
            if step.kind == "replay" and seen:
                update = seen[step.update_id % len(seen)]  # Telegram delivering one again
            elif step.kind == "signed" and buttons:
                data = buttons[step.update_id % len(buttons)]  # any button shown so far
                update = Incoming(
                    step.update_id,
                    "callback",
                    step.user,
                    step.user,
                    text=data,
                    callback_id="1",
                    message_id=1,
                )
            elif step.kind == "callback":  # forged, or signed for somebody else
                data = step.payload if step.update_id % 2 else sign(key, 99, "m:delete")
                update = Incoming(
                    step.update_id,
                    "callback",
                    step.user,
                    step.user,
                    text=data,
                    callback_id="1",
                    message_id=1,
                )
            elif step.kind in ("other", "edited"):
                update = Incoming(step.update_id, step.kind, step.user, step.user)  # type: ignore[arg-type]
            elif step.kind == "group":
                update = Incoming(
                    step.update_id, "text", step.user, -100, "group", text=step.payload
                )
            else:
                update = Incoming(
                    step.update_id,
                    "text",
                    step.user,
                    step.user,
                    first_name="<Fuzz>",
                    language="th",
                    text=step.payload,
                )
            seen.append(update)
            await bridge.handle(update)
    finally:
        await engine.dispose()
    return api


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=steps)
def test_hostile_updates_never_break_the_bot(
    plan: list[Step], library: Library, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / f"fuzz-{abs(hash(tuple(plan)))}.db"
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        api = asyncio.run(drive(library, db, plan))
    # Recorder asserted every message's length, HTML and button data as it was sent.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]
    apologies = {CATALOGS.ui(loc, NOT_SAVED) for loc in CATALOGS.languages()}
    assert not [text for _, text, _ in api.sent if text in apologies]  # nothing failed inside
    assert all("Traceback" not in text for _, text, _ in api.sent)
    db.unlink(missing_ok=True)


# -- the engine ---------------------------------------------------------------------------------

events = st.one_of(
    st.builds(Start, st.sampled_from(["", "online-safety", "relief", "follow-up", "nope"])),
    st.builds(Command, st.sampled_from(COMMANDS), st.sampled_from(["", "K7Q2-9XPM"])),
    st.builds(Text, texts),
    st.builds(Press, forged),
    st.integers(0, 50),  # press the n-th button on offer (the usual case)
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(events, min_size=1, max_size=60),
    locale=st.sampled_from(["en", "th", "my", "km", "vi"]),
)
def test_engine_invariants(plan: list[Any], locale: str, library: Library) -> None:
    """A learner is always at a valid step, never loses a completed lesson (the engine never
    resets; /delete is an action for the store), and every output fits Telegram."""
    ctx = Context(texts=CATALOGS, languages=CATALOGS.languages())
    state = LearnerState(locale=locale, fields={"first_name": "Ana <&>"})
    offered: list[str] = []
    key = key_from_token(TOKEN)
    for event in plan:
        if isinstance(event, int):
            if not offered:
                continue
            event = Press(offered[event % len(offered)])
        before = state.completed
        state, outputs = advance(library, state, event, ctx)
        assert before <= state.completed
        if state.position is not None:
            lesson = library.lesson(state.position.course, state.position.lesson)
            assert lesson is not None and lesson.index_of(state.position.step) is not None
        said = [o for o in outputs if isinstance(o, Say)]
        for say in said:
            assert visible_length(say.text) <= TELEGRAM_TEXT_LIMIT and not check_html(say.text)
            for row in say.buttons:
                for button in row:
                    assert button.label.strip()
                    sign(key, 2**52, button.token)  # raises if the data would be over 64 bytes
        if any(s.buttons for s in said):
            offered = [b.token for s in said for row in s.buttons for b in row]


# -- the linter ---------------------------------------------------------------------------------

SHIPPED = sorted((ROOT / "lessons").glob("*/0*.yaml"))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    path = draw(st.sampled_from(SHIPPED))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "dup", "indent", "dedent", "junk", "cut", "swap"]))
        if how == "drop":
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "indent":
            lines[i] = "  " + lines[i]
        elif how == "dedent":
            lines[i] = lines[i].lstrip()
        elif how == "junk":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(
                st.text(
                    alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@`\t") + list(SCRIPTS)),
                    min_size=1,
                    max_size=6,
                )
            )
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        elif how == "cut":
            lines = lines[:i]
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return path.parent.name, "".join(lines)


@settings(deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_linter_always_answers(case: tuple[str, str], tmp_path: Path) -> None:
    """Errors or success, each with a position in the file; never a crash or a hang (the
    5 s deadline per example fails a hang)."""
    course, text = case
    folder = tmp_path / course
    folder.mkdir(exist_ok=True)
    (folder / "course.yaml").write_text((ROOT / "lessons" / course / "course.yaml").read_text())
    lesson = folder / "01-mutated.yaml"
    lesson.write_text(text, encoding="utf-8")
    problems, _ = lint([str(lesson)], None)
    for problem in problems:
        assert problem.line >= 1 and problem.col >= 1 and problem.message
