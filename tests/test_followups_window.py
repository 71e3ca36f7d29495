"""Reminders and the survey on a channel with a free-messaging window (WhatsApp: 24 h after the
learner's last message, then templates only): the first reminder goes inside the window, in the
learner's daytime; the later ones keep the regular schedule; what the channel refuses
(NotAllowed, OverQuota) is handled once, never in a loop. On the real database, a fixed clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from bot.channels.capabilities import WHATSAPP
from bot.channels.delivery import NotAllowed, OverQuota, Proactive
from tests.test_journey import (  # the journey's fixtures and helpers
    MORNING,
    World,
    finish_course,
    mini,  # noqa: F401  (the fixture `world` needs)
    stop_mid_course,
    who,
    world,  # noqa: F401  (a fixture)
)

# MORNING is Monday 10:00 in Bangkok (UTC+7), where every learner here lives.
REMINDER = Proactive("reminder", {"name": "Ana", "course": "Mini course"})
NO_TEMPLATE = "outside the 24 h window, no template for `reminder` in `km`"


def on_whatsapp(world: World) -> World:
    world.deliverer.capabilities = WHATSAPP
    return world


async def stops_at(world: World, when: datetime, n: int = 1, name: str = "Ana") -> None:
    """Learner `n` stops mid-course (lesson two not started) at `when`."""
    world.clock.now = when
    await stop_mid_course(world, who(n, name), country="Thailand")


async def run_at(world: World, when: datetime, **policy: Any) -> int:
    """One pass of the worker at `when`; how many messages it sent."""
    world.clock.now = when
    before = len(world.deliverer.sent)
    await world.followups(**policy).run_once()
    return len(world.deliverer.sent) - before


async def test_the_first_reminder_goes_inside_the_window_after_half_of_it(world: World) -> None:
    on_whatsapp(world)
    await stops_at(world, MORNING - timedelta(hours=13), 1, "Ana")  # Sunday 21:00
    await stops_at(world, MORNING - timedelta(hours=11), 2, "Bo")  # Sunday 23:00
    await stops_at(world, MORNING - timedelta(hours=23, minutes=45), 3, "Cy")  # Sunday 10:15
    world.clock.now = MORNING
    tally = await world.followups().run_once()
    # Ana: quiet 13 h. Bo: 11 h, not yet. Cy: 23 h 45 m, too close to the window's end.
    assert (tally.reminded, tally.failed, tally.deferred) == (1, 0, 0)
    assert [who for who, _, _ in world.deliverer.sent] == ["1"]
    assert world.deliverer.proactive == [REMINDER]
    assert "You stopped in the middle of “Lesson two”" in world.deliverer.sent[0][1]
    # Counted against the spell, but it does not start the regular schedule's clock.
    assert await world.rows("SELECT nudges_sent, last_nudged_at FROM learners ORDER BY id") == [
        (1, None),
        (0, None),
        (0, None),
    ]
    # An hour later Bo has been quiet 12 h; Ana is not reminded twice, Cy's window has closed.
    assert await run_at(world, MORNING + timedelta(hours=1)) == 1
    assert [who for who, _, _ in world.deliverer.sent] == ["1", "2"]


async def test_the_regular_reminder_still_comes_at_day_three_and_no_third(world: World) -> None:
    on_whatsapp(world)
    await stops_at(world, MORNING - timedelta(hours=13))  # Sunday 21:00
    assert await run_at(world, MORNING) == 1  # in the window
    assert await run_at(world, MORNING + timedelta(days=2)) == 0  # Wednesday 10:00: 2 d 13 h
    # Day 3 is Wednesday 21:00, at night: Thursday 09:00 is the first daytime after it. The
    # in-window reminder (Monday 10:00, under 3 days before) does not hold this one back.
    assert await run_at(world, MORNING + timedelta(days=3, hours=-1)) == 1
    assert world.deliverer.proactive == [REMINDER, REMINDER]  # the channel picks a template
    for days in (4, 7, 10, 30):  # remind_max = 2: that was the last of this spell
        assert await run_at(world, MORNING + timedelta(days=days)) == 0
    assert len(world.deliverer.attempts) == 2
    assert await world.rows("SELECT nudges_sent FROM learners") == [(2,)]


async def test_no_in_window_reminder_when_that_part_of_the_window_is_all_night(
    world: World,
) -> None:
    on_whatsapp(world)
    stopped = MORNING - timedelta(hours=2)  # Monday 08:00: 12-23.5 h later is 20:00-07:30
    await stops_at(world, stopped)
    moment = stopped + timedelta(hours=11)
    while moment < stopped + timedelta(days=3):  # every 15 minutes until day 3
        assert await run_at(world, moment) == 0, moment
        moment += timedelta(minutes=15)
    # Day 3 is Thursday 08:00, before daytime: the regular reminder comes at 09:00.
    assert await run_at(world, stopped + timedelta(days=3, hours=1)) == 1
    assert world.deliverer.proactive == [REMINDER]
    assert len(world.deliverer.attempts) == 1


async def test_telegram_has_no_window_and_keeps_its_schedule(world: World) -> None:
    # The Recorder stands for Telegram unless told otherwise: window None.
    await stops_at(world, MORNING - timedelta(hours=13))  # Sunday 21:00
    assert await run_at(world, MORNING) == 0  # quiet 13 h: nothing on Telegram
    assert await run_at(world, MORNING + timedelta(days=2)) == 0
    assert await run_at(world, MORNING + timedelta(days=3, hours=-1)) == 1  # Thursday 09:00
    assert world.deliverer.proactive == [REMINDER]  # passed on; Telegram needs no template
    assert await run_at(world, MORNING + timedelta(days=5)) == 0
    assert await run_at(world, MORNING + timedelta(days=6, hours=-1)) == 1  # 3 days later
    assert await run_at(world, MORNING + timedelta(days=30)) == 0  # remind_max = 2
    assert len(world.deliverer.attempts) == 2


async def test_not_allowed_is_kept_with_its_reason_and_not_tried_again(world: World) -> None:
    on_whatsapp(world)
    await stops_at(world, MORNING - timedelta(hours=2))  # no in-window reminder: all night
    world.deliverer.refuse["1"] = NotAllowed(NO_TEMPLATE)
    world.clock.now = MORNING + timedelta(days=3)
    followups = world.followups()
    tally = await followups.run_once()
    assert (tally.reminded, tally.failed, tally.deferred) == (0, 1, 0)
    assert world.deliverer.sent == [] and world.deliverer.attempts == ["1"]
    [(name, course, lesson, data)] = await world.rows(
        "SELECT name, course, lesson, data FROM events WHERE name LIKE '%not_sent'"
    )
    assert (name, course, lesson) == ("reminder_not_sent", "mini", "two")
    assert (data if isinstance(data, dict) else json.loads(data)) == {"reason": NO_TEMPLATE}
    # The same worker a minute later, and another worker an hour later: nothing is retried.
    world.clock.now += timedelta(minutes=1)
    assert (await followups.run_once()).failed == 1  # the same tally: no new failure
    assert await run_at(world, MORNING + timedelta(days=3, hours=1)) == 0
    assert world.deliverer.attempts == ["1"]
    assert await world.rows("SELECT nudges_sent, status FROM learners") == [(1, "active")]


async def test_over_quota_leaves_the_reminder_due_after_until(world: World) -> None:
    on_whatsapp(world)
    await stops_at(world, MORNING - timedelta(hours=2))
    until = MORNING + timedelta(days=3, hours=2)
    world.deliverer.refuse["1"] = OverQuota("the messaging tier of 1000 users is used up", until)
    world.clock.now = MORNING + timedelta(days=3)
    followups = world.followups()
    tally = await followups.run_once()
    assert (tally.reminded, tally.failed, tally.deferred) == (0, 0, 1)
    # Not consumed: the learner's row is as it was before the claim.
    assert await world.rows("SELECT nudges_sent, last_nudged_at FROM learners") == [(0, None)]
    for minutes in (1, 60, 119):  # held until `until`: not asked again in a loop
        world.clock.now = MORNING + timedelta(days=3, minutes=minutes)
        await followups.run_once()
    assert world.deliverer.attempts == ["1"]
    del world.deliverer.refuse["1"]  # the tier frees
    world.clock.now = until
    tally = await followups.run_once()
    assert (tally.reminded, tally.failed, tally.deferred) == (1, 0, 1)
    assert world.deliverer.attempts == ["1", "1"] and world.deliverer.proactive == [REMINDER]
    assert await world.rows("SELECT nudges_sent FROM learners") == [(1,)]


async def test_the_survey_invitation_says_it_is_the_survey(world: World) -> None:
    on_whatsapp(world)
    await finish_course(world, who(1))
    assert await run_at(world, MORNING + timedelta(days=150)) == 1
    assert world.deliverer.proactive == [
        Proactive("survey", {"name": "Ana", "course": "How is your business now?"})
    ]
    assert "a few short questions" in world.deliverer.sent[0][1]


async def test_over_quota_leaves_the_survey_due_and_not_allowed_uses_it_up(
    world: World,
) -> None:
    on_whatsapp(world)
    await finish_course(world, who(1))
    await finish_course(world, who(2))
    day = MORNING + timedelta(days=150)
    until = day + timedelta(hours=3)
    world.deliverer.refuse["1"] = OverQuota("tier used up", until)
    world.deliverer.refuse["2"] = NotAllowed("no template for `survey` in `en`")
    world.clock.now = day
    followups = world.followups()
    tally = await followups.run_once()
    assert (tally.invited, tally.failed, tally.deferred) == (0, 1, 1)
    invited = (
        "SELECT l.external_id, count(w.learner_id) FROM learners l "
        "LEFT JOIN survey_waves w ON w.learner_id = l.id GROUP BY l.id ORDER BY l.id"
    )
    assert await world.rows(invited) == [("1", 0), ("2", 1)]
    assert await world.rows(
        "SELECT learner_id, name, course FROM events WHERE name = 'survey_not_sent'"
    ) == [(2, "survey_not_sent", "follow-up")]
    world.deliverer.refuse.clear()
    world.clock.now = day + timedelta(hours=1)
    await followups.run_once()
    assert world.deliverer.attempts == ["1", "2"]  # both held or used up
    world.clock.now = until
    assert (await followups.run_once()).invited == 1
    assert [who for who, _, _ in world.deliverer.sent] == ["1"]
    assert await world.rows(invited) == [("1", 1), ("2", 1)]
