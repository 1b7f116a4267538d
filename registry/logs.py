"""Logging set-up shared by the server, the CLI and sweep workers: text or JSON lines on stderr."""
from __future__ import annotations

import json
import logging


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (TTHC_LOG_FORMAT=json), extra fields kept."""

    _RESERVED = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
               "logger": record.name, "message": record.getMessage()}
        doc.update({k: v for k, v in vars(record).items() if k not in self._RESERVED and k != "message"})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(fmt: str) -> None:
    """Send tthc's logs to stderr as text or JSON lines (idempotent)."""
    root = logging.getLogger("tthc")
    if any(getattr(h, "_tthc", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler._tthc = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
