"""Secrets never reach a log line. HTTP clients log request URLs, and the Bot API puts the bot
token in every URL (`/bot<token>/getUpdates`); exceptions repeat it. This filter, installed on
the log handlers, replaces every secret in a record's message and traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "<secret>"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # The token's secret half alone must go too: some messages split it at the colon.
        parts = {part for secret in secrets if secret for part in (secret, *secret.split(":"))}
        self._secrets = sorted((p for p in parts if len(p) >= 8), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


def redact_logs(*secrets: str) -> RedactSecrets:
    """Install the filter on every handler of the root logger (and return it)."""
    redactor = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor
