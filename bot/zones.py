"""Learners' time zones, by the country they gave.

The engine (streaks), reminders and broadcasts all need a learner's local time. The countries we
serve keep no daylight saving time, but we still use zoneinfo rather than fixed offsets so this
stays right wherever the bot goes next.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

COUNTRY_ZONES = {
    "BN": "Asia/Brunei",
    "KH": "Asia/Phnom_Penh",
    "ID": "Asia/Jakarta",
    "LA": "Asia/Vientiane",
    "MY": "Asia/Kuala_Lumpur",
    "MM": "Asia/Yangon",
    "PH": "Asia/Manila",
    "SG": "Asia/Singapore",
    "TH": "Asia/Bangkok",
    "VN": "Asia/Ho_Chi_Minh",
}
# Learners who didn't say where they are: UTC+7, the middle of the region's zones.
DEFAULT_ZONE = "Asia/Bangkok"


def zone_for(country: str | None) -> ZoneInfo:
    return ZoneInfo(COUNTRY_ZONES.get(country or "", DEFAULT_ZONE))


def local_day(moment: datetime, country: str | None) -> date:
    return moment.astimezone(zone_for(country)).date()
