"""Configuration from the environment and an optional `.env` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    """Every setting, named by the environment variable that sets it."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    # A self-hosted Bot API server, e.g. http://127.0.0.1:8081/bot and .../file/bot.
    telegram_api_url: str | None = Field(default=None, alias="TELEGRAM_API_URL")
    telegram_file_url: str | None = Field(default=None, alias="TELEGRAM_FILE_URL")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="SALESCOACH_DATABASE_URL")
    playbook_dir: Path | None = Field(default=None, alias="SALESCOACH_PLAYBOOK_DIR")
    log_level: str = Field(default="INFO", alias="SALESCOACH_LOG_LEVEL")
    # How often the reminder dispatcher looks for due reminders, in seconds.
    dispatch_interval: float = Field(default=2.0, gt=0, alias="SALESCOACH_DISPATCH_INTERVAL")

    def token(self) -> str | None:
        """The bot token, or None when it is not set."""
        if self.telegram_bot_token is None:
            return None
        return self.telegram_bot_token.get_secret_value().strip() or None
