"""Settings from the environment (and a `.env` file), as documented in the README."""

from __future__ import annotations

from datetime import date, time

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

# WhatsApp's messaging tiers (developers.facebook.com/docs/whatsapp/messaging-limits, checked
# 2026-12-02): distinct users per rolling 24 h; 0 stands for unlimited.
TIERS = {"250": 250, "2000": 2000, "10000": 10_000, "100000": 100_000, "unlimited": 0}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_token: str = Field("", repr=False)  # repr=False: the token must never reach a log
    telegram_api_url: str = "https://api.telegram.org"
    telegram_framework: str = "aiogram"
    database_url: str = "sqlite+aiosqlite:///data/lessonbot.db"
    lessons_dir: str = "lessons"
    broadcasts_dir: str = "broadcasts"
    locales_dir: str = "locales"
    admin_ids: str = ""
    webhook_url: str = ""
    webhook_secret: str = Field("", repr=False)
    port: int = 8080
    broadcast_rate: float = 25.0
    quiet_hours: str = "21:00-07:00"  # learners' local time; urgent broadcasts ignore it
    default_locale: str = "en"
    # Reminders to learners who stopped mid-course, and the follow-up survey.
    remind_after_days: float = Field(3, gt=0)
    remind_max: int = Field(2, ge=0)  # per spell of inactivity; 0 turns reminders off
    remind_hours: str = "09:00-19:00"  # learners' local time
    # Follow-up survey waves, in months after a learner's first finished course: 3 and 12,
    # and the seed programme's 5 so its figures can be set beside ours.
    survey_waves: str = "3,5,12"
    # A randomised encouragement (off by default; see the README's "Evidence" section):
    # "reminders" turns reminders on for a random half of the learners who arrive on or after
    # ENCOURAGEMENT_START (a date, UTC). The seed makes the assignment reproducible.
    encouragement: str = ""
    encouragement_start: date | None = None
    encouragement_seed: str = Field("lessonbot", repr=False)
    # The WhatsApp templates approved in WhatsApp Manager; a missing file means none.
    whatsapp_templates: str = "templates/whatsapp.yaml"
    # WhatsApp Cloud API: on when WHATSAPP_TOKEN is set; the others are then required.
    whatsapp_token: str = Field("", repr=False)
    whatsapp_phone_number_id: str = ""
    whatsapp_app_secret: str = Field("", repr=False)
    whatsapp_verify_token: str = Field("", repr=False)
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_rate: float = Field(80.0, gt=0)  # messages/s per number: the Cloud API's default
    # The number's messaging tier: distinct users per 24 h that templates may reach (Meta
    # raises it with quality and volume: 250, 2000, 10000, 100000, unlimited).
    whatsapp_tier: str = "250"
    # LINE Messaging API: on when LINE_CHANNEL_ACCESS_TOKEN is set.
    line_channel_access_token: str = Field("", repr=False)
    line_channel_secret: str = Field("", repr=False)
    line_api_url: str = "https://api.line.me"
    # Facebook Messenger (a Page's Send API): on when MESSENGER_PAGE_TOKEN is set.
    messenger_page_token: str = Field("", repr=False)
    messenger_app_secret: str = Field("", repr=False)
    messenger_verify_token: str = Field("", repr=False)
    messenger_api_url: str = "https://graph.facebook.com"
    # Zalo Official Account API v3: on when ZALO_OA_ACCESS_TOKEN is set. Access tokens expire
    # (about a day); the refresh token, single-use, gets the next pair from the OAuth server.
    zalo_oa_access_token: str = Field("", repr=False)
    zalo_app_id: str = ""
    zalo_oa_secret: str = Field("", repr=False)  # the OA's secret key: webhook signatures
    zalo_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_app_secret: str = Field("", repr=False)  # the app's secret key: token refresh
    zalo_refresh_token: str = Field("", repr=False)
    # Proactive messages (outside 48 h / 8 replies) allowed per calendar month.
    zalo_proactive_monthly: int = Field(1000, ge=0)

    @field_validator("remind_hours", "quiet_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        first, dash, last = value.partition("-")
        try:
            time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
        except ValueError:
            dash = ""
        if not dash:
            raise ValueError(f"`{value}` is not a time window like 09:00-19:00")
        return value

    @field_validator("whatsapp_tier")
    @classmethod
    def _tier(cls, value: str) -> str:
        if value.strip().lower() not in TIERS:
            raise ValueError(f"WHATSAPP_TIER must be one of {', '.join(TIERS)}, not `{value}`")
        return value.strip().lower()

    @property
    def whatsapp_tier_users(self) -> int:
        """The tier as a number of users; 0 for unlimited."""
        return TIERS[self.whatsapp_tier]

    @field_validator("survey_waves")
    @classmethod
    def _waves(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
            raise ValueError(f"SURVEY_WAVES must be whole months like 3,5,12, not `{value}`")
        return ",".join(str(months) for months in sorted({int(part) for part in parts}))

    @property
    def wave_months(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.survey_waves.split(","))

    @model_validator(mode="after")
    def _encouragement(self) -> Settings:
        if self.encouragement not in ("", "reminders"):
            raise ValueError(
                f"ENCOURAGEMENT must be empty or `reminders`, not `{self.encouragement}`"
            )
        if self.encouragement and self.encouragement_start is None:
            raise ValueError(
                "ENCOURAGEMENT is on: set ENCOURAGEMENT_START to the date (YYYY-MM-DD, UTC) "
                "from which new learners join the trial"
            )
        return self

    @field_validator("telegram_framework")
    @classmethod
    def _framework(cls, value: str) -> str:
        if value not in ("aiogram", "ptb"):
            raise ValueError("TELEGRAM_FRAMEWORK must be `aiogram` or `ptb`")
        return value

    @property
    def admins(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.admin_ids.replace(" ", "").split(",") if x)

    @classmethod
    def load(cls) -> Settings:
        """Settings from the process environment and `.env`, with a readable error."""
        try:
            return cls()
        except ValueError as exc:
            raise ConfigError(f"bad configuration: {exc}") from exc
