"""Keeps secrets (webhook URLs) out of every log line, including those of the HTTP libraries,
whatever level the logging is configured at."""

from __future__ import annotations

import logging
import threading

REDACTED = "[redacted]"
_LIBRARY_LOGGERS = ("httpx", "httpcore", "urllib3")


class SecretRedactingFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add_secret(self, secret: str) -> None:
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = tuple(self._secrets)
        if not secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_filter = SecretRedactingFilter()
for _name in _LIBRARY_LOGGERS:
    logging.getLogger(_name).addFilter(_filter)


def register_secret(secret: str) -> None:
    """Redact `secret` from the HTTP libraries' log records from now on."""
    _filter.add_secret(secret)
