"""Settings from the environment (and a `.env` file), as documented in the README."""

from __future__ import annotations

from datetime import time

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError


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
    survey_after_days: float = Field(150, gt=0)  # after a learner's first finished course

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
