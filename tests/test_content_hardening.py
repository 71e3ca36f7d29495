"""Content files that are hostile or broken (issue #14): broadcast media leading out of the
broadcasts folder, huge files, links to nowhere and folders named `*.yaml`.

Everything here is real files in tmp_path (real symlinks, a real 6 GB sparse file, which takes
no disk), run through the real lint, loader and broadcast entry points.
"""

from __future__ import annotations

import io
import logging
import shutil
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.broadcast import commands
from bot.broadcast.message import load_broadcast
from bot.broadcast.outbox import Outbox
from bot.channels.telegram.admin import AdminDesk
from bot.config import Settings
from bot.content import Diagnostic, Severity, load_library
from bot.content.source import MAX_FILE_BYTES
from bot.errors import LessonBotError
from bot.lint import lint
from bot.store import create_engine, upgrade
from bot.store.admins import Roles
from bot.store.models import Learner
from tests.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-hardening"
HUGE = 6 * 1024**3
SIZE_MESSAGE = f"file is {HUGE} bytes; a content file must be under {MAX_FILE_BYTES}"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


def broadcast_yaml(media: str | None = None, name: str = "poster") -> str:
    text = (
        # Urgent: these cases are about media, and must not depend on the hour they run at
        # (a non-urgent broadcast waits out the learners' quiet hours).
        f"version: 1\nkind: broadcast\nid: {name}\nurgent: true\n"
        "text:\n  en: 'Hello {first_name}'\n  th: 'สวัสดี {first_name}'\n"
    )
    return text + (f"media: {media}\n" if media is not None else "")


MEDIA_LINE, MEDIA_COL = 8, len("media: ") + 1  # where broadcast_yaml puts the media value


def sparse(path: Path, size: int = HUGE) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def errors(problems: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in problems if d.severity is Severity.ERROR]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A broadcasts folder with a real photo, beside the bot's (stand-in) database."""
    found = tmp_path / "broadcasts"
    (found / "img").mkdir(parents=True)
    (found / "img" / "real.png").write_bytes(PNG)
    (tmp_path / "lessonbot.db").write_bytes(b"SQLite format 3\x00 every learner's answers")
    return found


# -- 1. a broadcast's media stays inside the broadcasts folder ------------------------------


def _absolute(folder: Path) -> str:
    return "/etc/passwd"


def _dotdot(folder: Path) -> str:
    return "../../../../../etc/passwd"


def _link_to_etc(folder: Path) -> str:
    (folder / "poster.jpg").symlink_to("/etc/hostname")
    return "poster.jpg"


def _link_to_database(folder: Path) -> str:
    (folder / "poster.jpg").symlink_to(folder.parent / "lessonbot.db")
    return "poster.jpg"


def _relative_link_out(folder: Path) -> str:
    (folder / "poster.jpg").symlink_to("../lessonbot.db")
    return "poster.jpg"


def _linked_folder(folder: Path) -> str:
    (folder / "pics").symlink_to("/etc", target_is_directory=True)
    return "pics/passwd"


def _loop(folder: Path) -> str:
    (folder / "loop.jpg").symlink_to("loop.jpg")
    return "loop.jpg"


OUTSIDE = [_absolute, _dotdot, _link_to_etc, _link_to_database, _relative_link_out, _linked_folder]


@pytest.mark.parametrize("make", [*OUTSIDE, _loop], ids=lambda f: f.__name__.strip("_"))
def test_lint_refuses_media_outside_the_broadcasts_folder(folder: Path, make: object) -> None:
    assert callable(make)
    media = make(folder)
    path = folder / "poster.yaml"
    path.write_text(broadcast_yaml(media))
    problems, _ = lint([str(folder)])
    assert [(d.path, d.line, d.col) for d in errors(problems)] == [
        (str(path), MEDIA_LINE, MEDIA_COL)
    ]
    [problem] = errors(problems)
    assert problem.message == (
        f"media `{media}` is not inside the broadcasts folder {folder} (or is a link to a file "
        "outside it); copy the photo into that folder and name it relative to it, like "
        "`media: poster.jpg`"
    )
    # The file on its own is linted alike, and the bot loads no message from it.
    assert lint([str(path)])[0] == problems
    assert load_broadcast(path)[0] is None


def test_media_inside_the_folder_is_accepted_even_through_a_link(folder: Path) -> None:
    (folder / "poster.png").symlink_to("img/real.png")
    (folder / "a.yaml").write_text(broadcast_yaml("img/real.png", "a"))
    (folder / "b.yaml").write_text(broadcast_yaml("poster.png", "b"))
    (folder / "c.yaml").write_text(broadcast_yaml("nope.png", "c"))
    problems, _ = lint([str(folder)])
    assert [(Path(d.path).name, d.line, d.col, d.message) for d in errors(problems)] == [
        (
            "c.yaml",
            MEDIA_LINE,
            MEDIA_COL,
            f"media file `nope.png` not found in {folder}; check the name (it is relative to "
            "the broadcasts folder)",
        )
    ]


def _settings(database_url: str, api: str = "http://127.0.0.1:9") -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_token=TOKEN,
        telegram_api_url=api,
        database_url=database_url,
        lessons_dir=str(ROOT / "lessons"),
        locales_dir=str(ROOT / "locales"),
        broadcast_rate=200.0,
    )


@pytest.mark.parametrize("make", OUTSIDE, ids=lambda f: f.__name__.strip("_"))
async def test_broadcast_send_refuses_media_outside_the_folder(
    folder: Path, make: object, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(make)
    media = make(folder)
    path = folder / "poster.yaml"
    path.write_text(broadcast_yaml(media))
    with pytest.raises(LessonBotError, match="has errors; fix them"):
        await commands.send(
            _settings(database_url), path, [], None, dry_run=True, yes=True, out=io.StringIO()
        )
    said = capsys.readouterr().err
    assert f"{path}:{MEDIA_LINE}:{MEDIA_COL}: error: media `{media}` is not inside" in said


PEOPLE = [(701, "en"), (702, "th"), (703, "th")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(max_poll_wait=0.2) as server:
        yield server


@pytest.fixture
async def outbox(database_url: str) -> AsyncIterator[Outbox]:
    engine = create_engine(database_url)
    await upgrade(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Learner),
            [
                {
                    "channel": "telegram",
                    "external_id": str(uid),
                    "first_name": f"P{uid}",
                    "locale": locale,
                    "country": None,
                    "status": "active",
                    "state": {},
                    "tags": [],
                    "created_at": now,
                    "last_active_at": now,
                }
                for uid, locale in PEOPLE
            ],
        )
    yield Outbox(engine)
    await engine.dispose()


async def test_a_photo_inside_the_folder_is_uploaded_by_broadcast_send(
    folder: Path, fake: FakeBotAPI, outbox: Outbox, database_url: str
) -> None:
    path = folder / "poster.yaml"
    path.write_text(broadcast_yaml("img/real.png"))
    out = io.StringIO()
    await commands.send(
        _settings(database_url, fake.url), path, [], None, dry_run=False, yes=True, out=out
    )
    photos = fake.calls_of("sendPhoto")
    assert {int(c.params["chat_id"]) for c in photos} == {uid for uid, _ in PEOPLE}
    assert len([c for c in photos if c.files]) == 1 and photos[0].files[0].size == len(PNG)
    assert "sent 3" in out.getvalue()


async def test_a_photo_replaced_by_a_link_after_queueing_is_never_uploaded(
    folder: Path,
    fake: FakeBotAPI,
    outbox: Outbox,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)  # `broadcast status` writes its failures CSV here
    settings = _settings(database_url, fake.url)
    library = load_library(ROOT / "lessons")[0]
    photo = folder / "poster.png"
    photo.write_bytes(PNG)
    path = folder / "poster.yaml"
    path.write_text(broadcast_yaml("poster.png"))
    message = commands.read_file(path, library)  # checked and resolved, as `send` queues it
    queued = photo.resolve()
    assert message.media == str(queued)
    broadcast_id = await outbox.create(
        message, message.segment, library, actor="test", now=datetime.now(UTC)
    )
    # Before it is sent (scheduled, or a send that was interrupted), the photo becomes a link
    # to the bot's database.
    photo.unlink()
    photo.symlink_to(folder.parent / "lessonbot.db")
    out = io.StringIO()
    with caplog.at_level(logging.ERROR, logger="bot.broadcast.message"):
        await commands.resume(settings, broadcast_id, out)
    assert fake.calls_of("sendPhoto") == [] and fake.sent_messages() == []
    assert (await outbox.counts(broadcast_id))["failed"] == len(PEOPLE)
    reason = (
        "the photo was not uploaded: it is no longer the file checked when this broadcast was "
        "queued (replaced by a link, moved or deleted); put it back in the broadcasts folder "
        f"and send the broadcast again ({queued})"
    )
    # What `broadcast status` shows: what to do in full, whatever the length of the path.
    assert f"{len(PEOPLE)} × {reason[:300]}" in out.getvalue()
    assert "put it back in the broadcasts folder and send the broadcast again" in out.getvalue()
    refused = [r.getMessage() for r in caplog.records if r.name == "bot.broadcast.message"]
    assert refused == [f"broadcast photo refused: {reason}"]  # once, not once per learner


# -- 3. a content file's size is checked before it is read ------------------------------------


@pytest.fixture
def lessons(tmp_path: Path) -> Path:
    root = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons" / "online-safety", root / "online-safety")
    return root


def test_a_huge_lesson_is_refused_by_its_size_without_being_read(lessons: Path) -> None:
    huge = sparse(lessons / "online-safety" / "99-huge.yaml")
    tracemalloc.start()
    try:
        library, problems = load_library(lessons)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024**2  # nowhere near the 6 GB it would take to read it
    assert [d for d in problems if d.path == str(huge)] == [
        Diagnostic(str(huge), 1, 1, Severity.ERROR, SIZE_MESSAGE)
    ]
    shipped, _ = load_library(ROOT / "lessons" / "online-safety")
    assert [x.id for x in library.courses[0].lessons] == [
        x.id for x in shipped.courses[0].lessons
    ]  # every other lesson still loads
    assert lint([str(huge)])[0] == [Diagnostic(str(huge), 1, 1, Severity.ERROR, SIZE_MESSAGE)]
    # Catalog coverage reads every lesson's texts; the huge one is left out, not read.
    problems, coverage = lint([str(ROOT / "locales" / "th")], str(lessons))
    assert coverage and not [d for d in errors(problems)]


def test_a_file_just_over_the_limit_keeps_the_message(lessons: Path) -> None:
    big = sparse(lessons / "online-safety" / "99-big.yaml", MAX_FILE_BYTES + 1)
    assert errors(lint([str(lessons)])[0]) == [
        Diagnostic(
            str(big),
            1,
            1,
            Severity.ERROR,
            f"file is {MAX_FILE_BYTES + 1} bytes; a content file must be under {MAX_FILE_BYTES}",
        )
    ]


def test_a_huge_broadcast_is_refused_by_its_size(folder: Path) -> None:
    (folder / "good.yaml").write_text(broadcast_yaml(name="good"))
    huge = sparse(folder / "huge.yaml")
    tracemalloc.start()
    try:
        problems, _ = lint([str(folder)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024**2
    assert problems == [Diagnostic(str(huge), 1, 1, Severity.ERROR, SIZE_MESSAGE)]


# -- 4. a link to nowhere and a folder named *.yaml --------------------------------------------


def dangling(path: Path) -> Path:
    path.symlink_to(path.parent / "gone" / "deleted.yaml")
    return path


LINK_MESSAGE = (
    "this is a link to `{target}`, which does not exist; point the link at an existing file, "
    "or delete it"
)
FOLDER_MESSAGE = (
    "this is a folder, not a file, but its name ends in .yaml; rename the folder (or delete "
    "it) so only content files end in .yaml"
)


def test_broken_entries_in_broadcasts_are_errors_and_the_rest_still_lint(folder: Path) -> None:
    good = folder / "good.yaml"
    good.write_text(broadcast_yaml("img/real.png", "good"))
    broken = folder / "broken.yaml"
    broken.write_text(broadcast_yaml(name="broken").replace("  en:", "  en: '<b>Hi'\n  xx:"))
    link = dangling(folder / "link.yaml")
    directory = folder / "old.yaml"
    directory.mkdir()
    problems, _ = lint([str(folder)])
    assert sorted((d.path, d.line, d.col, d.message) for d in problems if d.line == 1) == [
        (str(link), 1, 1, LINK_MESSAGE.format(target=folder / "gone" / "deleted.yaml")),
        (str(directory), 1, 1, FOLDER_MESSAGE),
    ]
    assert {Path(d.path).name for d in errors(problems)} == {"broken.yaml", "link.yaml", "old.yaml"}
    # Named on their own, they are reported alike.
    assert lint([str(link)])[0] == [d for d in problems if d.path == str(link)]
    assert lint([str(directory)])[0] == [d for d in problems if d.path == str(directory)]


def test_a_folder_holding_only_a_broken_link_reports_the_link(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.mkdir()
    link = dangling(folder / "only.yaml")
    problems, _ = lint([str(folder)])
    assert problems == [
        Diagnostic(
            str(link),
            1,
            1,
            Severity.ERROR,
            LINK_MESSAGE.format(target=folder / "gone" / "deleted.yaml"),
        )
    ]


async def test_slash_broadcast_lists_the_good_files_despite_broken_entries(
    folder: Path, outbox: Outbox
) -> None:
    (folder / "alert.yaml").write_text(broadcast_yaml(name="alert"))
    (folder / "photo.yaml").write_text(broadcast_yaml("img/real.png", "photo"))
    dangling(folder / "link.yaml")
    (folder / "old.yaml").mkdir()
    (folder / "escape.yaml").write_text(broadcast_yaml("../lessonbot.db", "escape"))
    roles = Roles(outbox.engine)
    await roles.bootstrap([42], datetime.now(UTC))
    desk = AdminDesk(roles, outbox, load_library(ROOT / "lessons")[0], folder)
    [menu] = await desk.command(42, "broadcast")
    titles = [row[0].label for row in menu.buttons]
    assert titles == ["alert", "photo", "✍️ Write a new one"]


def test_broken_entries_in_a_course_are_errors_and_the_other_lessons_load(lessons: Path) -> None:
    course = lessons / "online-safety"
    link = dangling(course / "98-link.yaml")
    directory = course / "99-folder.yaml"
    directory.mkdir()
    library, problems = load_library(lessons)
    assert [d for d in problems if d.path in (str(link), str(directory))] == [
        Diagnostic(
            str(link),
            1,
            1,
            Severity.ERROR,
            LINK_MESSAGE.format(target=link.parent / "gone" / "deleted.yaml"),
        ),
        Diagnostic(str(directory), 1, 1, Severity.ERROR, FOLDER_MESSAGE),
    ]
    assert library.courses and library.courses[0].lessons


def test_broken_entries_in_a_schemes_folder_are_errors_and_the_library_loads(
    tmp_path: Path,
) -> None:
    lessons = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons" / "relief", lessons / "relief")
    schemes = lessons / "relief" / "schemes"
    link = dangling(schemes / "zz.yaml")
    directory = schemes / "yy.yaml"
    directory.mkdir()
    library, problems = load_library(lessons)
    found = {d.path: d.message for d in problems if d.path in (str(link), str(directory))}
    assert found == {
        str(link): LINK_MESSAGE.format(target=link.parent / "gone" / "deleted.yaml"),
        str(directory): FOLDER_MESSAGE,
    }
    assert library.courses
