"""A learner's next send waits for their last delivery to be recorded (bot/store/replies.py):
so a kill can resend each learner at most one send, however slowly the database commits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from bot.engine import Say
from bot.store import create_engine
from bot.store.replies import Pending, Replies, stage
from bot.store.writer import transact
from tests.databases import rows

ANA, BUDI = ("telegram", "1"), ("telegram", "2")


async def test_a_learners_next_send_waits_until_their_delivery_is_deleted(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:

        def store(conn: Connection) -> list[Pending]:
            return stage(conn, *ANA, [Say("one")], datetime.now(UTC))

        [reply] = await transact(engine, store)
        # A slow tick, like a busy database's commit: far longer than the checks below take
        # even on a loaded machine, so they see the delivery still unrecorded.
        replies = Replies(engine, tick=2.0)
        replies.delivered(reply.id, ANA)
        waiting = asyncio.create_task(replies.recorded(ANA))
        await asyncio.wait_for(replies.recorded(BUDI), 0.05)  # nothing of Budi's is unrecorded
        await asyncio.sleep(0.1)
        assert not waiting.done()  # Ana's delivery is still only in memory
        assert await rows(database_url, "SELECT count(*) FROM replies") == [(1,)]
        await asyncio.wait_for(waiting, 10)
        assert await rows(database_url, "SELECT count(*) FROM replies") == [(0,)]
        await asyncio.wait_for(replies.recorded(ANA), 0.05)  # and no longer waits
    finally:
        await engine.dispose()
