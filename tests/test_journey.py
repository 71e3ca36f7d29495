"""The learner journey on a real SQLite file: profile columns, certificates and /verify, /mydata,
/delete, reminders and the follow-up survey on an injected clock."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import insert

from bot.channels.capabilities import TELEGRAM, Capabilities
from bot.channels.delivery import Delivered, DeliveryError, Proactive, Unreachable
from bot.content import Library, load_library
from bot.engine import Command, Press, Say, Start, Text
from bot.i18n import Catalogs
from bot.journey.followups import FollowUps, Policy
from bot.journey.trial import Trial
from bot.service import LessonService
from bot.store import Identity, LearnerStore, create_engine, upgrade
from bot.store.models import TemplateSend
from tests.databases import rows

ROOT = Path(__file__).resolve().parent.parent
# Monday 23 November 2026, 03:00 UTC: 10:00 in Bangkok and Jakarta, 11:00 in Manila.
MORNING = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

MINI_COURSE = """\
version: 1
kind: course
id: mini
title: Mini course
description: Two tiny lessons.
lessons: [one, two]
"""
LESSON = """\
version: 1
kind: lesson
id: {id}
title: Lesson {id}
minutes: 1
steps:
  - id: hello
    type: message
    text: Hello {{first_name}}
  - id: pick
    type: question
    text: Which is safe?
    correct: good
    options:
      - {{id: good, label: Good}}
      - {{id: bad, label: Bad}}
  - id: done
    type: end
    text: Done.
"""


def write_mini_lessons(lessons: Path) -> Path:
    """A two-lesson course, and the shipped follow-up survey, in the folder `lessons`."""
    (lessons / "mini").mkdir(parents=True)
    (lessons / "mini" / "course.yaml").write_text(MINI_COURSE)
    for n, lesson in enumerate(("one", "two"), 1):
        (lessons / "mini" / f"0{n}-{lesson}.yaml").write_text(LESSON.format(id=lesson))
    shutil.copytree(ROOT / "lessons" / "follow-up", lessons / "follow-up")
    return lessons


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Library:
    library, problems = load_library(write_mini_lessons(tmp_path_factory.mktemp("lessons")))
    assert not problems, problems
    return library


@dataclass
class Clock:
    now: datetime = MORNING

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Recorder:
    """A Deliverer that keeps what it was asked to send (the Telegram one is tested end to end
    in test_telegram_e2e). `capabilities` says which app's rules it stands for (Telegram's: no
    window); `refuse` makes it raise a delivery error for an address, as a channel would."""

    channel: str = "test"
    capabilities: Capabilities = TELEGRAM
    sent: list[tuple[str, str, list[list[tuple[str, str]]]]] = field(default_factory=list)
    proactive: list[Proactive | None] = field(default_factory=list)  # one per message sent
    attempts: list[str] = field(default_factory=list)  # every call, sent or refused
    unreachable: set[str] = field(default_factory=set)
    refuse: dict[str, DeliveryError] = field(default_factory=dict)

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
        self.attempts.append(external_id)
        if external_id in self.unreachable:
            raise Unreachable("Forbidden: bot was blocked by the user")
        if external_id in self.refuse:
            raise self.refuse[external_id]
        self.sent.append((external_id, text, keyboard))
        self.proactive.append(proactive)
        return Delivered(len(self.sent))

    def to(self, external_id: str) -> list[str]:
        return [text for who, text, _ in self.sent if who == external_id]


@dataclass
class World:
    service: LessonService
    clock: Clock
    url: str
    deliverer: Recorder

    def followups(self, **policy: Any) -> FollowUps:
        return FollowUps(
            self.service.store.engine,
            self.service.library,
            self.service.texts,
            self.deliverer,
            Policy(**policy),
            clock=self.clock,
        )

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return await rows(self.url, sql)


@pytest.fixture
async def world(tmp_path: Path, mini: Library, database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    await upgrade(engine)
    catalogs = Catalogs(tmp_path / "no-locales")
    clock = Clock()
    service = LessonService(mini, LearnerStore(engine), catalogs, catalogs.languages(), clock=clock)
    yield World(service, clock, database_url, Recorder())
    await engine.dispose()


def who(n: int, name: str = "Ana") -> Identity:
    return Identity("test", str(n), first_name=name)


async def tap(world: World, person: Identity, replies: list[Say], label: str) -> list[Say]:
    token = next(
        b.token for say in reversed(replies) for row in say.buttons for b in row if b.label == label
    )
    return await world.service.handle(person, Press(token))


async def join(world: World, person: Identity, *, country: str = "") -> list[Say]:
    """First contact with a deep link, into the course; the country (by name) with /country."""
    replies = await world.service.handle(person, Start("mini"))
    replies = await tap(world, person, replies, "▶️ Start learning")
    if country:
        await world.service.handle(person, Command("country"))
        replies = await world.service.handle(person, Text(country))
    return replies


async def finish_lesson(world: World, person: Identity) -> list[Say]:
    await world.service.handle(person, Text("next"))
    return await world.service.handle(person, Text("Good"))


async def decline_profile(world: World, person: Identity) -> list[Say]:
    """After the first lesson the profile is asked; say no."""
    return await world.service.handle(person, Text("No, just the lessons"))


async def test_profile_columns_follow_consent(world: World) -> None:
    yes, no = who(1), who(2)
    await join(world, yes)
    replies = await finish_lesson(world, yes)  # then the profile request
    replies = await tap(world, yes, replies, "Yes, ask me")
    for label in ("Thailand", "Food and drinks", "Woman", "18–24", "No", "Prefer not to say"):
        replies = await tap(world, yes, replies, label)
    await join(world, no)
    await finish_lesson(world, no)
    await decline_profile(world, no)
    assert await world.rows(
        "SELECT external_id, consent, country, business, gender, age_group, "
        "disability, minority FROM learners ORDER BY id"
    ) == [
        ("1", "yes", "TH", "food", "woman", "18-24", "no", "skip"),
        ("2", "no", None, None, None, None, None, None),
    ]


async def test_certificate_is_made_kept_and_verifiable(world: World) -> None:
    ana = who(1)
    await join(world, ana)
    await finish_lesson(world, ana)
    await decline_profile(world, ana)
    await world.service.handle(ana, Text("1"))  # the next-lesson button
    replies = await finish_lesson(world, ana)
    assert "You get a certificate" in replies[-1].text
    replies = await world.service.handle(ana, Text("Ana Santos"))
    assert replies[-1].text == "Print the name “Ana Santos” on your certificate?"
    replies = await world.service.handle(ana, Text("yes"))
    photo = next(r.media for r in replies if r.media is not None)
    assert photo.kind == "photo" and photo.data is not None
    with Image.open(io.BytesIO(photo.data)) as image:
        assert image.size == (1600, 1130)
    [(code, name, course)] = await world.rows("SELECT code, name, course FROM certificates")
    assert (name, course) == ("Ana Santos", "mini") and code in replies[0].text
    assert await world.rows("SELECT first_course_done_at IS NOT NULL FROM learners") == [(1,)]
    # Anyone can check the code, typed loosely.
    checker = who(9, "Bo")
    await join(world, checker)
    replies = await world.service.handle(checker, Command("verify", code.lower().replace("-", "")))
    assert replies[0].text == "✅ Genuine: Ana Santos completed “Mini course” on November 23, 2026."
    replies = await world.service.handle(checker, Command("verify", "AAAA-AAAA"))
    assert "No certificate has that code" in replies[0].text


async def test_mydata_holds_everything_about_the_learner_and_nobody_else(world: World) -> None:
    ana, bo = who(1), who(2, "Bo")
    await join(world, ana)
    await join(world, bo)
    await finish_lesson(world, ana)
    await finish_lesson(world, bo)
    replies = await world.service.handle(ana, Command("mydata"))
    document = replies[-1].media
    assert document is not None and document.kind == "document" and document.data is not None
    data = json.loads(document.data)
    assert data["learner"]["external_id"] == "1" and data["learner"]["first_name"] == "Ana"
    assert {(p["lesson"], p["status"]) for p in data["progress"]} == {("one", "completed")}
    assert [a["value"] for a in data["answers"]] == ["good"]
    assert data["events"] and data["certificates"] == []
    assert "Bo" not in document.data.decode()


async def test_delete_erases_rows_and_keeps_only_counts(world: World) -> None:
    ana, bo = who(1), who(2, "Bo")
    await join(world, ana)
    await join(world, bo)
    await finish_lesson(world, ana)
    await finish_lesson(world, bo)
    for address in ("1", "2"):  # a WhatsApp template each had, outside their window
        await world.service.store.transact(
            lambda conn, a=address: conn.execute(
                insert(TemplateSend).values(
                    channel=ana.channel,
                    address=a,
                    purpose="reminder",
                    template="lesson_reminder",
                    category="marketing",
                    sent_at=MORNING.replace(tzinfo=None),
                )
            )
        )
    replies = await world.service.handle(ana, Command("delete"))
    assert await world.rows("SELECT count(*) FROM learners") == [(2,)]  # not before the tap
    replies = await tap(world, ana, replies, "Yes, erase everything")
    assert "Your data is erased" in replies[-1].text
    for table in ("learners", "progress", "answers", "events"):
        assert await world.rows(
            f"SELECT count(*) FROM {table} WHERE learner_id = 1"
            if table != "learners"
            else "SELECT count(*) FROM learners WHERE external_id = '1'"
        ) == [(0,)]
    assert await world.rows("SELECT count(*) FROM events WHERE learner_id IS NULL") == [(0,)]
    assert await world.rows("SELECT metric, key, count FROM anonymous_counts ORDER BY metric") == [
        ("learners_erased", "", 1),
        ("lesson_completed", "mini/one", 1),
    ]
    assert await world.rows("SELECT count(*) FROM answers") == [(1,)]  # Bo's answers stay
    assert await world.rows("SELECT address FROM template_sends") == [("2",)]  # Bo's stays
    replies = await world.service.handle(ana, Start())  # writing again: a new learner
    assert "I keep your progress" in replies[-1].text


async def stop_mid_course(world: World, person: Identity, country: str = "") -> None:
    await join(world, person, country=country)
    await finish_lesson(world, person)  # lesson one done, lesson two not started


async def test_reminders_wait_for_daytime_and_stop_after_the_limit(world: World) -> None:
    ana = who(1)
    await stop_mid_course(world, ana, country="Thailand")
    followups = world.followups(remind_after=timedelta(days=3), remind_max=2)
    world.clock.now = MORNING + timedelta(days=2)
    assert (await followups.run_once()).reminded == 0  # not inactive long enough
    world.clock.now = MORNING + timedelta(days=3, hours=13)  # 23:00 in Bangkok
    assert (await followups.run_once()).reminded == 0
    world.clock.now = MORNING + timedelta(days=4)  # 10:00 in Bangkok
    await followups.run_once()
    assert world.deliverer.to("1") == [
        "Hi Ana! You stopped in the middle of “Lesson two”. It takes a few minutes to finish. "
        "Tap to go on where you left off."
    ]
    [(_, _, keyboard)] = world.deliverer.sent
    resumed = await world.service.handle(ana, Press(keyboard[0][0][1]))
    assert "Lesson two" in resumed[0].text  # the button opens the lesson to go on with
    # Pressing it made Ana active again: a new spell of inactivity, two more reminders at most.
    for days in (8, 11, 14, 17):
        world.clock.now = MORNING + timedelta(days=days)
        await world.followups(remind_after=timedelta(days=3), remind_max=2).run_once()
    assert len(world.deliverer.to("1")) == 3


async def test_reminders_follow_each_learners_time_zone(world: World) -> None:
    await stop_mid_course(world, who(1), country="Philippines")  # UTC+8
    await stop_mid_course(world, who(2, "Bo"), country="Thailand")  # UTC+7
    # 01:30 UTC: 09:30 in Manila, 08:30 in Bangkok (before the 09:00 start).
    world.clock.now = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    await world.followups().run_once()
    assert [who for who, _, _ in world.deliverer.sent] == ["1"]


async def test_no_reminder_after_stop_or_when_blocked(world: World) -> None:
    ana, bo = who(1), who(2, "Bo")
    await stop_mid_course(world, ana)
    await stop_mid_course(world, bo)
    await world.service.handle(ana, Command("stop"))
    world.deliverer.unreachable.add("2")
    world.clock.now = MORNING + timedelta(days=4)
    tally = await world.followups().run_once()
    assert world.deliverer.sent == [] and tally.failed == 1
    assert await world.rows("SELECT external_id, status, opted_out FROM learners ORDER BY id") == [
        ("1", "active", 1),
        ("2", "blocked", 0),
    ]


async def test_a_restart_or_a_second_worker_never_doubles_a_message(world: World) -> None:
    for n in range(1, 21):
        await stop_mid_course(world, who(n, f"L{n}"))
    world.clock.now = MORNING + timedelta(days=4)
    # Two workers at once, then a third after a "restart", all on the same database.
    await asyncio.gather(world.followups().run_once(), world.followups().run_once())
    await world.followups().run_once()
    sent = [who for who, _, _ in world.deliverer.sent]
    assert sorted(sent, key=int) == [str(n) for n in range(1, 21)]


async def finish_course(world: World, person: Identity) -> None:
    """Both lessons today (MORNING), no profile, no certificate name."""
    await join(world, person)
    await finish_lesson(world, person)
    await decline_profile(world, person)
    await world.service.handle(person, Text("1"))  # the next-lesson button
    await finish_lesson(world, person)  # the course is finished today
    await world.service.handle(person, Text("Not now"))


async def test_each_follow_up_wave_is_offered_once_after_its_months(world: World) -> None:
    ana = who(1)
    await finish_course(world, ana)
    followups = world.followups(waves=(3, 5, 12))
    waves = "SELECT months FROM survey_waves ORDER BY months"
    for days, months in ((92, 3), (153, 5), (366, 12)):
        before = len(world.deliverer.sent)
        world.clock.now = MORNING + timedelta(days=days - 1)  # not yet due
        await followups.run_once()
        world.clock.now = MORNING + timedelta(days=days, hours=12)  # due, but 22:00 in Jakarta
        await followups.run_once()
        assert len(world.deliverer.sent) == before
        world.clock.now = MORNING + timedelta(days=days)
        await followups.run_once()
        await world.followups(waves=(3, 5, 12)).run_once()  # a second worker, or a restart
        assert len(world.deliverer.sent) == before + 1
        assert (await world.rows(waves))[-1] == (months,)
    [(_, text, keyboard), *_] = world.deliverer.sent
    assert "a few short questions" in text
    replies = await world.service.handle(ana, Press(keyboard[0][0][1]))
    assert "How is your business now?" in replies[0].text
    await world.service.handle(ana, Text("Start"))
    await world.service.handle(ana, Text("Yes"))
    assert await world.rows(
        "SELECT step, value FROM answers WHERE course = 'follow-up' AND lesson = 'check-in'"
    ) == [("selling-online", "yes")]


async def test_a_learner_owed_several_waves_is_asked_the_latest_only(world: World) -> None:
    await finish_course(world, who(1))
    world.clock.now = MORNING + timedelta(days=200)  # both 3 and 5 months have passed
    assert (await world.followups(waves=(3, 5, 12)).run_once()).invited == 1
    assert await world.rows("SELECT months FROM survey_waves") == [(5,)]
    world.clock.now = MORNING + timedelta(days=250)
    assert (await world.followups(waves=(3, 5, 12)).run_once()).invited == 0


async def test_a_wave_long_past_is_not_sent(world: World) -> None:
    """An answer 16 months on is not a 12-month answer: the last wave is owed 3 months."""
    await finish_course(world, who(1))
    world.clock.now = MORNING + timedelta(days=470)  # 15.4 months
    assert (await world.followups(waves=(3, 5, 12)).run_once()).invited == 0
    world.clock.now = MORNING + timedelta(days=400)  # 13.1 months: still owed
    assert (await world.followups(waves=(3, 5, 12)).run_once()).invited == 1


async def test_opted_out_learners_are_not_invited_to_a_wave(world: World) -> None:
    ana = who(1)
    await finish_course(world, ana)
    await world.service.handle(ana, Command("stop"))
    world.clock.now = MORNING + timedelta(days=92)
    assert (await world.followups(waves=(3,)).run_once()).invited == 0
    assert await world.rows("SELECT count(*) FROM survey_waves") == [(0,)]


async def test_the_baseline_follows_the_profile_then_the_lessons_go_on(world: World) -> None:
    ana = who(1)
    await join(world, ana)
    replies = await finish_lesson(world, ana)
    replies = await tap(world, ana, replies, "Yes, ask me")
    for label in ("Thailand", "Food and drinks", "Woman", "18–24", "No", "No"):
        replies = await tap(world, ana, replies, label)
    assert any("Five more short questions" in say.text for say in replies)
    replies = await tap(world, ana, replies, "Start")
    for label in ("Yes", "10 to 30", "Not sure", "No", "Yes"):
        replies = await tap(world, ana, replies, label)
    assert "Now, back to the lessons" in replies[-1].text
    # The way on is the course's next lesson, not the follow-up survey's.
    replies = await tap(world, ana, replies, "▶️ Lesson two")
    assert "Lesson two" in replies[0].text
    assert await world.rows(
        "SELECT step, value FROM answers WHERE lesson = 'baseline' ORDER BY id"
    ) == [
        ("selling-online", "yes"),
        ("customers", "10-30"),
        ("two-step", "not-sure"),
        ("applied-scheme", "no"),
        ("still-running", "yes"),
    ]
    assert await world.rows("SELECT name, lesson FROM events WHERE name = 'survey_invited'") == [
        ("survey_invited", "baseline")
    ]


async def test_without_consent_there_is_no_baseline(world: World) -> None:
    ana = who(1)
    await join(world, ana)
    await finish_lesson(world, ana)
    replies = await decline_profile(world, ana)
    assert not any("Five more short questions" in say.text for say in replies)
    assert await world.rows("SELECT count(*) FROM events WHERE name = 'survey_invited'") == [(0,)]


async def test_the_comparison_arm_gets_no_reminders_and_the_same_waves(world: World) -> None:
    for n in range(1, 9):
        await stop_mid_course(world, who(n, f"L{n}"))
    trial = Trial("seed-a", MORNING - timedelta(days=1))
    world.clock.now = MORNING + timedelta(days=4)
    followups = world.followups()
    followups.trial = trial
    tally = await followups.run_once()
    arms = dict(await world.rows("SELECT external_id, arm FROM learners ORDER BY id"))
    assert sorted(arms.values()) == ["comparison"] * 4 + ["encouraged"] * 4
    reminded = {who for who, _, _ in world.deliverer.sent}
    assert tally.reminded == 4 and reminded == {k for k, arm in arms.items() if arm == "encouraged"}
    # Stored once: another seed (or turning the trial off and on) changes nobody's arm.
    followups.trial = Trial("seed-b", MORNING - timedelta(days=1))
    await followups.run_once()
    assert dict(await world.rows("SELECT external_id, arm FROM learners ORDER BY id")) == arms


async def test_learners_from_before_the_trial_are_outside_it(world: World) -> None:
    await stop_mid_course(world, who(1))
    world.clock.now = MORNING + timedelta(days=4)
    followups = world.followups()
    followups.trial = Trial("seed-a", MORNING + timedelta(days=1))
    assert (await followups.run_once()).reminded == 1
    assert await world.rows("SELECT arm FROM learners") == [(None,)]


async def test_a_name_with_markup_stays_text_in_verify(world: World) -> None:
    ana = who(1, "<b>Ana</b>")
    await join(world, ana)
    await finish_lesson(world, ana)
    await decline_profile(world, ana)
    await world.service.handle(ana, Text("1"))  # the next-lesson button
    await finish_lesson(world, ana)
    replies = await world.service.handle(ana, Text("<i>Ana</i> & co"))
    assert "“&lt;i&gt;Ana&lt;/i&gt; &amp; co”" in replies[-1].text  # the confirmation, escaped
    await world.service.handle(ana, Text("Yes"))
    [(code,)] = await world.rows("SELECT code FROM certificates")
    replies = await world.service.handle(ana, Command("verify", code))
    assert "&lt;i&gt;Ana&lt;/i&gt; &amp; co completed" in replies[0].text
