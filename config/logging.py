"""
Structured logs: one JSON object per line, for log shippers; `LOG_FORMAT=plain` for people.

Every record carries its logger, level, time (UTC, ISO 8601) and message, plus the fields
the code passed in `extra` (the request line's method, path, status, duration, request id,
account and client IP; the auth events' event, realm, account id and IP). Nothing secret is
ever put in a record: passwords, tokens and token hashes never reach a logger.

Either way a record can never forge another: JSON escapes every control character, and
the plain format escapes them too (`PlainFormatter`), since messages carry client input
such as the request path.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Control characters (C0, DEL, C1), the Unicode line and paragraph separators and the
# backslash, as escapes: `\n`, `\r`, `\t`, `\\`, `\x1b`, `\u2028`. Escaping the backslash
# too keeps it unambiguous: a client's literal `\n` (two characters) is logged as `\\n`.
_ESCAPES: dict[int, str] = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update(
    {
        ord("\\"): "\\\\",
        ord("\n"): "\\n",
        ord("\r"): "\\r",
        ord("\t"): "\\t",
        0x2028: "\\u2028",
        0x2029: "\\u2029",
    }
)
# Each line of a traceback after the record's own line starts with this, so only a
# record's first line starts at the beginning of a line.
CONTINUATION = "    | "


def escape_controls(text: str) -> str:
    """`text` on one line: every control character and line separator escaped."""
    return text.translate(_ESCAPES)


# No format of this process writes a record's caller (file, line, function) or its
# multiprocessing name, and finding them cost about a fifth of a request line's time (the
# access log writes one per request): two of the switches of the logging HOWTO's
# "Optimization" section turn them off. The ids of the process and the thread stay: other
# formats in the process print them with `%d` (gunicorn's error log: `[%(process)d]`).
logging.logMultiprocessing = False
logging._srcfile = None

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


# One encoder for every record: `json.dumps(..., default=str)` would build one per call.
_encoder = json.JSONEncoder(default=str)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(entry)


class PlainFormatter(logging.Formatter):
    """Plain text for people (`LOG_FORMAT=plain`), one line per record.

    The formatted line (the message after %-formatting included) has its control
    characters escaped, so a `%0A` in a URL path cannot start a forged line. A traceback
    keeps its own line breaks for reading, but every one of its lines is escaped and
    indented with `CONTINUATION`: an exception's message can carry client input too, and
    this way it can never begin a line of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        blocks = [record.exc_text] if record.exc_text else []
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            # split("\n"), not splitlines(): other separators are escaped, not broken on.
            for line in block.split("\n"):
                text += "\n" + CONTINUATION + escape_controls(line)
        return text
