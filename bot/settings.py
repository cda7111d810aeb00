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
    # Connections kept open to the Bot API: 16 calls in flight cover Telegram's ~30
    # messages/s even at 500 ms per call, and a small pool is cheap to manage.
    telegram_connections: int = Field(default=16, ge=1, alias="SALESCOACH_TELEGRAM_CONNECTIONS")
    # Messages a second sent to Telegram overall (~30 for most bots; more with paid
    # broadcasts); replies to people go first, broadcasts get the rest (bot/sending.py).
    send_rate: float = Field(default=30.0, gt=0, alias="SALESCOACH_SEND_RATE")
    # How often the reminder dispatcher looks for due reminders, in seconds.
    dispatch_interval: float = Field(default=2.0, gt=0, alias="SALESCOACH_DISPATCH_INTERVAL")
    # Webhook mode (`salescoach run --webhook`): the public HTTPS URL Telegram posts to,
    # the secret Telegram sends back with every post, and where our HTTP server listens.
    webhook_url: str | None = Field(default=None, alias="SALESCOACH_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="SALESCOACH_WEBHOOK_SECRET")
    webhook_listen: str = Field(default="127.0.0.1:8080", alias="SALESCOACH_WEBHOOK_LISTEN")
    # Flood control: more than `flood_limit` updates from one user within `flood_window`
    # seconds are dropped after one slow-down notice; a limit of 0 turns it off.
    flood_limit: int = Field(default=20, ge=0, alias="SALESCOACH_FLOOD_LIMIT")
    flood_window: float = Field(default=10.0, gt=0, alias="SALESCOACH_FLOOD_WINDOW")

    # The optional AI customer for role-plays: an OpenAI-compatible chat-completions endpoint
    # (base URL or full …/chat/completions), the model name, an optional key, and how long
    # to wait before falling back to the scripted line.
    llm_url: str | None = Field(default=None, alias="SALESCOACH_LLM_URL")
    llm_model: str | None = Field(default=None, alias="SALESCOACH_LLM_MODEL")
    llm_api_key: SecretStr | None = Field(default=None, alias="SALESCOACH_LLM_API_KEY")
    llm_timeout: float = Field(default=8.0, gt=0, alias="SALESCOACH_LLM_TIMEOUT")
    # Where `salescoach objections train` writes the company's models; a model found here
    # wins over the default one shipped with SalesCoach.
    model_dir: Path = Field(default=Path("salescoach-models"), alias="SALESCOACH_MODEL_DIR")

    # Feishu / Lark (`salescoach run --platform feishu`): the self-built app's credentials
    # from the developer console, the event-subscription keys, and the Open Platform's
    # address (https://open.larksuite.com for Lark, or a test server's URL).
    feishu_app_id: str | None = Field(default=None, alias="SALESCOACH_FEISHU_APP_ID")
    feishu_app_secret: SecretStr | None = Field(default=None, alias="SALESCOACH_FEISHU_APP_SECRET")
    feishu_encrypt_key: SecretStr | None = Field(
        default=None, alias="SALESCOACH_FEISHU_ENCRYPT_KEY"
    )
    feishu_verification_token: SecretStr | None = Field(
        default=None, alias="SALESCOACH_FEISHU_VERIFICATION_TOKEN"
    )
    feishu_domain: str = Field(default="https://open.feishu.cn", alias="SALESCOACH_FEISHU_DOMAIN")
    # HTTP event-callback mode (`--feishu-callback`): where our server listens; the public
    # URL behind the proxy is entered in the developer console, not here.
    feishu_callback_listen: str = Field(
        default="127.0.0.1:8090", alias="SALESCOACH_FEISHU_CALLBACK_LISTEN"
    )
    # Feishu's sending limits for a self-built app (server-docs/api-call-guide/
    # frequency-control, and the send-message API): 1,000 messages a minute and 50 a
    # second per app, 5 a second to one user or chat. Replies and broadcasts share them.
    feishu_sends_per_minute: int = Field(
        default=1000, ge=1, alias="SALESCOACH_FEISHU_SENDS_PER_MINUTE"
    )
    feishu_sends_per_second: float = Field(
        default=50.0, gt=0, alias="SALESCOACH_FEISHU_SENDS_PER_SECOND"
    )
    feishu_sends_per_user_second: float = Field(
        default=5.0, gt=0, alias="SALESCOACH_FEISHU_SENDS_PER_USER_SECOND"
    )

    def token(self) -> str | None:
        """The bot token, or None when it is not set."""
        if self.telegram_bot_token is None:
            return None
        return self.telegram_bot_token.get_secret_value().strip() or None

    def webhook_secret_value(self) -> str | None:
        """The webhook secret, or None when it is not set."""
        if self.webhook_secret is None:
            return None
        return self.webhook_secret.get_secret_value().strip() or None

    def feishu_secret(self) -> str | None:
        """The Feishu app secret, or None when it is not set."""
        return _secret(self.feishu_app_secret)

    def feishu_encrypt(self) -> str | None:
        """The Feishu event Encrypt Key, or None when it is not set."""
        return _secret(self.feishu_encrypt_key)

    def feishu_token(self) -> str | None:
        """The Feishu event Verification Token, or None when it is not set."""
        return _secret(self.feishu_verification_token)

    def llm_key(self) -> str | None:
        """The AI endpoint's API key, or None when it is not set."""
        if self.llm_api_key is None:
            return None
        return self.llm_api_key.get_secret_value().strip() or None


def _secret(value: SecretStr | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value().strip() or None
