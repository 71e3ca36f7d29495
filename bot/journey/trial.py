"""A randomised encouragement: reminders on for a random half of new learners.

A programme that wants to know what the bot changed, beyond what learners say it changed, needs
a comparison group. Withholding lessons would be wrong, so the trial varies only an
encouragement: learners in the "comparison" arm get no reminders when they stop mid-course.
Both arms reach every lesson, command and survey on their own (README, "Evidence").

Assignment is in permuted blocks of four consecutive learner ids: each block holds two of each
arm, in an order drawn from the seed. So the arms stay balanced (they differ by at most four,
two from the block cut at each end of the trial's ids, plus one per learner erased before the
worker reached them: tests/test_trial.py), the assignment is reproducible
from the seed and the ids, and every worker computes the same arm without coordinating. It is
stored once (`learners.arm`) and never changed, even if the seed or the setting later is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.store.learners import db_time
from bot.store.models import Learner
from bot.store.writer import write

ENCOURAGED = "encouraged"
COMPARISON = "comparison"
ARMS = (ENCOURAGED, COMPARISON)
BLOCK = (ENCOURAGED, ENCOURAGED, COMPARISON, COMPARISON)


def arm_for(seed: str, learner_id: int) -> str:
    """The arm of `learner_id`: its place in its block of four, shuffled by the seed."""
    block, place = divmod(learner_id, len(BLOCK))
    order = list(BLOCK)
    random.Random(f"{seed}:{block}").shuffle(order)
    return order[place]


@dataclass(frozen=True)
class Trial:
    seed: str
    start: datetime  # learners who first wrote at or after this join the trial

    @classmethod
    def from_settings(cls, settings: Settings) -> Trial | None:
        if not settings.encouragement or settings.encouragement_start is None:
            return None
        return cls(settings.encouragement_seed, starting(settings.encouragement_start))

    async def assign(self, engine: AsyncEngine, batch: int = 1000) -> int:
        """Give an arm to the trial's learners who have none yet; how many were given one."""
        query = (
            select(Learner.id)
            .where(Learner.arm.is_(None), Learner.created_at >= db_time(self.start))
            .order_by(Learner.id)
            .limit(batch)
        )
        assigned = 0
        while True:
            async with engine.connect() as conn:
                ids = list((await conn.execute(query)).scalars())
            if not ids:
                return assigned
            # `arm IS NULL`: an arm once stored is never changed, whoever wrote it first.
            statement = (
                update(Learner)
                .where(Learner.id == bindparam("learner"), Learner.arm.is_(None))
                .values(arm=bindparam("chosen"))
            )
            params = [{"learner": i, "chosen": arm_for(self.seed, i)} for i in ids]
            await write(engine, statement.execution_options(synchronize_session=False), params)
            assigned += len(ids)


def starting(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)
