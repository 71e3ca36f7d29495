"""Settings from the environment (and a `.env` file), as documented in the README."""

from __future__ import annotations

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
