"""Learners' local time: quiet hours and local-time schedules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from bot.zones import zone_for


def next_local(moment: datetime, country: str | None, at: time) -> datetime:
    """The first moment at or after `moment` (UTC) when it is `at` o'clock for the learner."""
    local = moment.astimezone(zone_for(country))
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if candidate < local:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)


@dataclass(frozen=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(7, 0)

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """From "21:00-07:00"."""
        first, _, second = text.partition("-")
        return cls(time.fromisoformat(first.strip()), time.fromisoformat(second.strip()))

    def contains(self, moment: datetime, country: str | None) -> bool:
        now = moment.astimezone(zone_for(country)).time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end  # spans midnight

    def over_at(self, moment: datetime, country: str | None) -> datetime:
        """When the quiet hours that `moment` falls in end, in UTC."""
        return next_local(moment, country, self.end)
