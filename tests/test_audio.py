"""A recorded clip per lesson step (docs/audio.md): found by where it lies, checked by lint,
attached by the engine for learners in its locale, and sent by every app that can play one.

The clips here are a few hundred bytes with the header of their format: enough for the lint's
and the fakes' checks, which read the first bytes. The project ships no clips (and no
synthetic voices): each test makes its own in a tmp folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.channels.capabilities import CHANNELS, LINE, ZALO, capabilities
from bot.channels.media import content_type, sendable
from bot.channels.whatsapp.graph import Graph
from bot.channels.whatsapp.sender import WhatsAppPlatform
from bot.channels.window import WindowedSender
from bot.content import load_library
from bot.content.diagnostics import Diagnostic, Severity
from bot.content.library import Library, LoadedLesson
from bot.engine import LearnerState, Press, Say, Start, advance
from bot.engine.outputs import Media
from bot.engine.tokens import step_token
from bot.lint import lint_paths
from bot.store import LearnerStore, create_engine
from tests.channel_drivers import Driver, TelegramDriver, WhatsAppDriver, walk
from tests.fakebotapi import FakeBotAPI
from tests.fakemessenger import FakeMessenger
from tests.fakewhatsapp import FakeCloudApi
from tests.test_telegram_e2e import ANA, PNG

# An Ogg page whose packet is an Opus header ("OpusHead" at byte 28), as ffmpeg writes one,
# then filler: what lint and the fakes take for an Opus clip.
OPUS = (
    b"OggS\x00\x02" + b"\x00" * 8 + b"\x01\x00\x00\x00" + b"\x00" * 8 + b"\x01\x13"
    b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00" + bytes(range(256)) * 2
)
VORBIS = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 300
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00" + b"\x00" * 400
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + b"\x00" * 400

LESSON = """\
version: 1
kind: lesson
id: talk
title: Talk
minutes: 1
steps:
  - {id: hello, type: message, text: "Hello, <b>Sari</b> sells batik."}
  - {id: look, type: message, text: Her stall, image: media/stall.png}
  - id: quiz
    type: question
    text: Where does she sell?
    correct: b
    retry: true
    options:
      - {id: a, label: Online only}
      - {id: b, label: At a stall}
  - {id: done, type: end, text: Bye}
"""


def make_course(root: Path, clips: dict[str, bytes]) -> Path:
    """The course `demo` (one lesson, `talk`) under `root`, with `clips` (paths under its
    audio/ folder -> content). Returns the course folder."""
    course = root / "demo"
    (course / "media").mkdir(parents=True)
    (course / "media" / "stall.png").write_bytes(PNG)
    (course / "course.yaml").write_text(
        "version: 1\nkind: course\nid: demo\ntitle: Demo\ndescription: d\nlessons: [talk]\n"
    )
    (course / "01-talk.yaml").write_text(LESSON)
    for rel, data in clips.items():
        (course / "audio" / rel).parent.mkdir(parents=True, exist_ok=True)
        (course / "audio" / rel).write_bytes(data)
    return course


def loaded(root: Path) -> tuple[Library, LoadedLesson]:
    library, problems = load_library(root)
    assert not [p for p in problems if p.severity is Severity.ERROR], problems
    lesson = library.lesson("demo", "talk")
    assert lesson is not None
    return library, lesson


# -- the engine ----------------------------------------------------------------------------------


def started(library: Library, locale: str) -> list[Say]:
    state = LearnerState(onboarding="", locale=locale, fields={"first_name": "Sari"})
    _, outputs = advance(library, state, Start("demo"))
    return [o for o in outputs if isinstance(o, Say)]


def test_a_clip_goes_with_its_step_for_learners_of_its_locale_only(tmp_path: Path) -> None:
    make_course(tmp_path, {})
    library, lesson = loaded(tmp_path)
    clip = str(tmp_path / "demo" / "audio" / "th" / "talk" / "hello.ogg")
    with_clip = replace(lesson, audio={("th", "hello"): clip})
    library = Library((replace(library.courses[0], lessons=(with_clip,)),))
    thai, english = started(library, "th"), started(library, "en")
    assert thai[-1].media == Media("audio", clip)
    assert english[-1].media is None
    # The clip never replaces the text: the same words and buttons either way.
    assert [(s.text, s.buttons) for s in thai] == [(s.text, s.buttons) for s in english]
    assert thai[-1].text == "Hello, <b>Sari</b> sells batik."


def test_a_step_with_a_picture_gets_its_clip_as_a_message_just_before(tmp_path: Path) -> None:
    make_course(tmp_path, {"en/talk/look.ogg": OPUS, "en/talk/quiz.mp3": MP3})
    library, lesson = loaded(tmp_path)
    state = LearnerState(onboarding="", locale="en")
    state, _ = advance(library, state, Start("demo"))
    state, outputs = advance(library, state, Press(step_token(lesson, "hello", "n")))
    says = [o for o in outputs if isinstance(o, Say)]
    clip = str(tmp_path / "demo" / "audio" / "en" / "talk" / "look.ogg")
    assert says[0] == Say("", media=Media("audio", clip))
    assert says[1].text == "Her stall" and says[1].media is not None
    assert says[1].media.kind == "photo" and says[1].buttons  # the prompt is the step's own
    assert state.prompt.text == "Her stall"


def test_a_question_asked_again_after_a_wrong_try_does_not_send_its_clip_again(
    tmp_path: Path,
) -> None:
    make_course(tmp_path, {"en/talk/quiz.mp3": MP3})
    library, lesson = loaded(tmp_path)
    state = LearnerState(onboarding="", locale="en")
    state, _ = advance(library, state, Start("demo"))
    state, _ = advance(library, state, Press(step_token(lesson, "hello", "n")))
    state, shown = advance(library, state, Press(step_token(lesson, "look", "n")))
    assert [o.media.kind for o in shown if isinstance(o, Say) and o.media] == ["audio"]
    state, again = advance(library, state, Press(step_token(lesson, "quiz", "a")))
    says = [o for o in again if isinstance(o, Say)]
    assert says[-1].text.startswith("Where does she sell?") and says[-1].media is None


# -- loading and lint ----------------------------------------------------------------------------


def warnings_by_file(problems: list[Diagnostic]) -> dict[str, str]:
    """Each warning's message by its file's path from the course folder's audio/ (or from
    above the course, for a file outside a lesson's folder); each must be a warning at 1:1."""
    found = {}
    for p in problems:
        assert p.severity is Severity.WARNING and (p.line, p.col) == (1, 1), p
        found[Path(p.path).relative_to(Path(p.path).parents[3]).as_posix()] = p.message
    return found


def test_clips_are_indexed_by_locale_and_step_and_every_mistake_is_a_warning(
    tmp_path: Path,
) -> None:
    course = make_course(
        tmp_path,
        {
            "th/talk/hello.ogg": OPUS,
            "en/talk/hello.mp3": MP3,
            "en/talk/look.m4a": M4A,
            "vi/talk/hello.ogg": OPUS,
            "vi/talk/hello.mp3": MP3,  # two for one step: the .ogg is sent
            "xx/talk/hello.ogg": OPUS,  # no such language
            "th/chat/hello.ogg": OPUS,  # no such lesson
            "th/talk/helo.ogg": OPUS,  # no such step
            "th/talk/done.ogg": OPUS,  # the end step
            "th/talk/look.wav": b"RIFF" + b"\x00" * 100,
            "th/talk/quiz.ogg": VORBIS,  # Ogg, but not Opus: WhatsApp refuses it
            "km/talk/hello.ogg": OPUS[:64] + b"\x00" * (1 << 20),  # over 1 MB: sent, but said
            "th/hello.ogg": OPUS,  # not in a lesson's folder
            ".DS_Store": b"\x00",
        },
    )
    library, problems = load_library(tmp_path)
    lesson = library.lesson("demo", "talk")
    assert lesson is not None
    audio = course / "audio"
    assert dict(lesson.audio) == {
        ("th", "hello"): str(audio / "th/talk/hello.ogg"),
        ("en", "hello"): str(audio / "en/talk/hello.mp3"),
        ("en", "look"): str(audio / "en/talk/look.m4a"),
        ("vi", "hello"): str(audio / "vi/talk/hello.ogg"),
        ("km", "hello"): str(audio / "km/talk/hello.ogg"),
    }
    assert lesson.clip("th", "hello") == str(audio / "th/talk/hello.ogg")
    assert lesson.clip("en", "quiz") is None
    said = warnings_by_file(problems)
    assert set(said) == {
        "audio/vi/talk/hello.mp3",
        "audio/xx/talk/hello.ogg",
        "audio/th/chat/hello.ogg",
        "audio/th/talk/helo.ogg",
        "audio/th/talk/done.ogg",
        "audio/th/talk/look.wav",
        "audio/th/talk/quiz.ogg",
        "audio/km/talk/hello.ogg",
        "demo/audio/th/hello.ogg",
    }
    assert "only hello.ogg is sent" in said["audio/vi/talk/hello.mp3"]
    assert "`xx` is not a language" in said["audio/xx/talk/hello.ogg"]
    assert "no lesson `chat`" in said["audio/th/chat/hello.ogg"]
    assert "no step `helo` (did you mean `hello`?)" in said["audio/th/talk/helo.ogg"]
    assert "`end` step" in said["audio/th/talk/done.ogg"]
    ffmpeg = "ffmpeg -i in.wav -c:a libopus -b:a 24k -ac 1 out.ogg"
    assert ".ogg (Opus), .mp3 or .m4a" in said["audio/th/talk/look.wav"]
    assert ffmpeg in said["audio/th/talk/look.wav"]
    assert "not Ogg Opus" in said["audio/th/talk/quiz.ogg"]
    assert "1.0 MB" in said["audio/km/talk/hello.ogg"] and ffmpeg in said["audio/km/talk/hello.ogg"]
    assert "audio/<locale>/<lesson-id>/<step-id>.ogg" in said["demo/audio/th/hello.ogg"]


def test_a_clip_for_a_lesson_that_fails_is_not_reported_again(tmp_path: Path) -> None:
    course = make_course(tmp_path, {"th/talk/hello.ogg": OPUS})
    (course / "01-talk.yaml").write_text(LESSON.replace("minutes: 1", "minutes: 99"))
    library, problems = load_library(tmp_path)
    assert library.lesson("demo", "talk") is None
    assert not [p for p in problems if "audio" in p.path]


def test_with_the_shipped_locales_known_a_clip_must_be_in_one(tmp_path: Path) -> None:
    course = make_course(tmp_path, {"th/talk/hello.ogg": OPUS, "ja/talk/hello.ogg": OPUS})
    library, problems = load_library(tmp_path, locales={"en", "th"})
    lesson = library.lesson("demo", "talk")
    assert lesson is not None and set(lesson.audio) == {("th", "hello")}
    (problem,) = problems
    assert problem.path == str(course / "audio" / "ja" / "talk" / "hello.ogg")
    assert "`ja` is not a language of the bot (the bot ships en, th)" in problem.message


def test_lint_reports_a_clip_on_its_own_path_and_warnings_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = make_course(tmp_path / "lessons", {"th/talk/look.wav": b"RIFF", "th/talk/x.ogg": OPUS})
    wav = course / "audio" / "th" / "talk" / "look.wav"
    found = lint_paths([str(wav)])
    assert [(d.path, d.line, d.col, d.severity) for d in found] == [
        (str(wav), 1, 1, Severity.WARNING)
    ]
    assert len(lint_paths([str(course)])) == 2  # the folder: both clips

    from bot.cli import main

    assert main(["lint", str(course)]) == 0  # warnings only
    assert f"{wav}:1:1: warning: a clip must be" in capsys.readouterr().out


def test_a_link_out_of_the_course_folder_is_never_sent(tmp_path: Path) -> None:
    secret = tmp_path / "secret.ogg"
    secret.write_bytes(OPUS)
    course = make_course(tmp_path / "lessons", {})
    (course / "audio" / "th" / "talk").mkdir(parents=True)
    (course / "audio" / "th" / "talk" / "hello.ogg").symlink_to(secret)
    library, problems = load_library(tmp_path / "lessons")
    lesson = library.lesson("demo", "talk")
    assert lesson is not None and not lesson.audio
    assert ["outside the course folder" in p.message for p in problems] == [True]


# -- the channels' rules -------------------------------------------------------------------------


def test_each_app_declares_whether_it_plays_clips() -> None:
    plays = {c.channel for c in CHANNELS.values() if "audio" in c.media}
    assert plays == {"telegram", "whatsapp", "messenger"}  # LINE needs hosting; Zalo has none
    assert "audio" in capabilities("console").media


def test_an_app_that_cannot_play_a_clip_gets_the_text_alone() -> None:
    message = Say("Hello", media=Media("audio", "lessons/c/audio/th/l/hello.ogg"))
    for caps in (LINE, ZALO):
        assert sendable(message, caps) == Say("Hello")
    assert sendable(message, CHANNELS["whatsapp"]) is message
    assert [content_type(Media("audio", f"a/b.{ext}")) for ext in ("ogg", "mp3", "m4a")] == [
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
    ]


@contextlib.asynccontextmanager
async def whatsapp_sender(database_url: str) -> AsyncIterator[tuple[FakeCloudApi, WindowedSender]]:
    key = b"k" * 32
    engine = create_engine(database_url)
    store = LearnerStore(engine)
    async with FakeCloudApi() as fake:
        from bot.channels.templates import Templates

        graph = Graph(fake.url, fake.token, fake.phone_number_id)
        platform = WhatsAppPlatform(graph, store, Templates(), key, clock=fake.now)
        try:
            yield fake, WindowedSender(platform, store, key, "whatsapp", clock=fake.now)
        finally:
            await graph.close()
            await engine.dispose()


async def test_whatsapp_sends_opus_as_a_voice_message_and_text_after_a_refused_clip(
    database_url: str, tmp_path: Path
) -> None:
    siti = "6281234567890"
    opus, mp3, vorbis = tmp_path / "a.ogg", tmp_path / "b.mp3", tmp_path / "c.ogg"
    opus.write_bytes(OPUS)
    mp3.write_bytes(MP3)
    vorbis.write_bytes(VORBIS)  # lint leaves such a clip out; sent anyway, it is refused
    async with whatsapp_sender(database_url) as (fake, sender):
        fake.wrote_at(siti, fake.now())
        sender.heard(siti, fake.now())
        await sender.reply(
            siti,
            [
                Say("Satu", media=Media("audio", str(opus))),
                Say("Dua", media=Media("audio", str(mp3))),
                Say("Tiga", media=Media("audio", str(vorbis))),
            ],
        )
        sent = [(s.type, s.body.get("audio", {}).get("voice")) for s in fake.messages_to(siti)]
        assert sent == [("audio", True), ("text", None), ("audio", None), ("text", None),
                        ("text", None)]  # fmt: skip
        assert fake.texts_to(siti)[-1] == "Tiga"
        assert [u.mime_type for u in fake.uploads] == ["audio/ogg", "audio/mpeg"]
        assert "audio/ogg; codecs=opus" in fake.calls[-2].response["error"]["error_data"]["details"]


# -- the fakes' rules ----------------------------------------------------------------------------


async def test_the_fake_bot_api_keeps_telegrams_voice_rules(tmp_path: Path) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.types import BufferedInputFile

    async with FakeBotAPI() as fake:
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
        bot = Bot("123:abc", session=session)
        try:
            sent = await bot.send_voice(ANA, BufferedInputFile(OPUS, "a.ogg"))
            assert sent.voice is not None
            again = await bot.send_voice(ANA + 1, sent.voice.file_id)  # by id: no upload
            assert again.voice is not None and again.voice.file_id == sent.voice.file_id
            with pytest.raises(TelegramBadRequest, match="wrong file type"):
                await bot.send_voice(ANA, BufferedInputFile(VORBIS, "c.ogg"))
            with pytest.raises(TelegramBadRequest, match="wrong file type"):
                await bot.send_audio(ANA, BufferedInputFile(OPUS, "a.ogg"))  # MP3 or M4A only
            with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
                await bot.send_audio(ANA, sent.voice.file_id)
            with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
                await bot.send_voice(ANA, "VOICE-never-given")
            fake.forbid_voice(ANA)
            with pytest.raises(TelegramBadRequest, match="VOICE_MESSAGES_FORBIDDEN"):
                await bot.send_voice(ANA, sent.voice.file_id)
        finally:
            await bot.session.close()


async def test_the_fake_messenger_keeps_the_audio_rules() -> None:
    import aiohttp

    psid = "7234567890123456"
    async with FakeMessenger(media_rate=2) as fake, aiohttp.ClientSession() as http:
        fake.wrote_at(psid, fake.now())
        url = f"{fake.url}/v23.0/me/message_attachments?access_token={fake.page_token}"

        async def upload(mime: str) -> dict[str, Any]:
            form = aiohttp.FormData()
            form.add_field("message", '{"attachment": {"type": "audio", "payload": {}}}')
            form.add_field("filedata", MP3, filename="b.mp3", content_type=mime)
            async with http.post(url, data=form) as answer:
                return dict(await answer.json())

        assert "audio attachment cannot be" in (await upload("image/png"))["error"]["message"]
        attachment = (await upload("audio/mpeg"))["attachment_id"]
        send = f"{fake.url}/v23.0/me/messages?access_token={fake.page_token}"
        body = {
            "recipient": {"id": psid},
            "messaging_type": "RESPONSE",
            "message": {"attachment": {"type": "audio", "payload": {"attachment_id": attachment}}},
        }
        codes = []
        for _ in range(3):  # audio and video: `media_rate` a second, apart from text's
            async with http.post(send, json=body) as answer:
                codes.append((await answer.json()).get("error", {}).get("code"))
        assert codes == [None, None, 613]


# -- end to end, on every app --------------------------------------------------------------------


def clips_to(driver: Driver) -> int:
    """How many clips the learner was sent."""
    fake = driver.fake  # type: ignore[attr-defined]
    if isinstance(driver, TelegramDriver):
        calls = fake.calls_of("sendVoice")
        return sum(c.status == 200 and str(c.params["chat_id"]) == driver.address for c in calls)
    if isinstance(driver, WhatsAppDriver):
        return sum(s.type == "audio" for s in driver.sent())
    if driver.channel == "messenger":
        return sum(s.kind == "audio" for s in driver.sent())  # type: ignore[attr-defined]
    return 0


def clip_uploads(driver: Driver) -> int:
    fake = driver.fake  # type: ignore[attr-defined]
    if isinstance(driver, TelegramDriver):
        return sum(bool(c.files) for c in fake.calls_of("sendVoice") if c.status == 200)
    if driver.channel == "line":
        return 0  # LINE has no upload
    if driver.channel == "messenger":
        return sum(u.type == "audio" for u in fake.uploads)
    return sum(u.mime_type.startswith("audio/") for u in fake.uploads)


Learner = Callable[[str, Path], contextlib.AbstractAsyncContextManager[Driver]]


def learner_on(channel: str) -> Learner:
    """A running bot on `channel` against its fake, as the channel-neutral suite starts one."""
    from tests.test_channels_e2e import LEARNERS

    return LEARNERS[channel]


@pytest.mark.slow
@pytest.mark.parametrize("channel", ["aiogram", "ptb", "whatsapp", "line", "messenger", "zalo"])
async def test_a_clip_is_uploaded_once_and_the_text_always_arrives(
    channel: str, database_url: str, tmp_path: Path
) -> None:
    lessons = tmp_path / "lessons"
    make_course(lessons, {"en/talk/hello.ogg": OPUS, "en/talk/look.ogg": OPUS + b"2",
                          "th/talk/hello.ogg": OPUS + b"th"})  # fmt: skip
    library, _ = loaded(lessons)
    async with learner_on(channel)(database_url, lessons) as learner:
        plays = "audio" in capabilities(learner.channel).media
        others = [learner.twin()]
        if isinstance(learner, TelegramDriver):  # and one who allows no voice messages
            no_voice = TelegramDriver(learner.fake, learner.settings, ANA + 2)
            no_voice.task = learner.task
            learner.fake.forbid_voice(no_voice.user)
            others.append(no_voice)
        for someone in (learner, *others):
            await walk(someone, library, "demo", "en", "tapped", lessons=1)
            texts = " ".join(someone.texts())
            assert "Sari" in texts and "Her stall" in texts and "Where does she sell?" in texts
        assert [clips_to(s) for s in (learner, *others)][:2] == ([2, 2] if plays else [0, 0])
        # Uploaded by the first learner's turn; the second got both by the app's ids (the
        # Thai clip never went: nobody learns in Thai here).
        assert clip_uploads(learner) == (2 if plays else 0)
        if isinstance(learner, TelegramDriver):
            assert clips_to(others[-1]) == 0  # refused, and the text went all the same
