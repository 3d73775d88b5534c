"""
Structured logs: one JSON object per line, for log shippers; `LOG_FORMAT=plain` for people.

Every record carries its logger, level, time (UTC, ISO 8601) and message, plus the fields
the code passed in `extra` (the request line's method, path, status, duration, request id,
account and client IP; the auth events' event, realm, account id and IP). Nothing secret is
ever put in a record: passwords, tokens and token hashes never reach a logger.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
