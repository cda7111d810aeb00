"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import logging


class RedactFilter(logging.Filter):
    """Replace secrets (the bot token) wherever they appear in a record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingFormatter(logging.Formatter):
    """Redact secrets from the whole formatted line, tracebacks included.

    Exceptions from the HTTP client name the request URL, and the Bot API URL
    holds the token; the filter above sees only the message, not the traceback.
    """

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self.secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler we installed, so configuring again replaces only it."""


# Loggers that write message payloads or request URLs (which hold the token)
# below this level: they never log below it, whatever the configured level.
QUIET_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,  # PTB logs whole API payloads, message text included, at DEBUG
    "apscheduler": logging.WARNING,
}


def configure_logging(level: str, secrets: list[str]) -> None:
    """Log to stderr at `level`, with secrets redacted and payload-logging libraries held back."""
    handler = _OurHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _OurHandler)] + [handler]
    root.setLevel(level.upper())
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
