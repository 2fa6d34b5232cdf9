"""Where errors and warnings go: a rotating file in the data dir (and stderr for `serve`)."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from opchat.sanitize import clean

LOG_FILENAME = "opchat.log"


class CleanFormatter(logging.Formatter):
    """Log lines quote platforms and customers: no escape sequence reaches a terminal.

    An admin reads the log with `tail` and `opchat serve` writes to a terminal,
    so the formatted line (tracebacks included) goes through the same
    sanitising as everything on the app's screen.
    """

    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record))


class LogUnavailable(OSError):
    pass


def setup_logging(data_dir: Path, level: str = "INFO", stderr: bool = False) -> Path:
    path = Path(data_dir) / LOG_FILENAME
    root = logging.getLogger("opchat")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    # The log may quote customers: it is as private as the data dir (see cli.private_files_for).
    try:
        file_handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3,
                                           encoding="utf-8")
    except OSError as exc:
        raise LogUnavailable(f"cannot open the log {path}: {exc.strerror or exc}") from exc
    file_handler.setFormatter(CleanFormatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(CleanFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            "%H:%M:%S"))
        root.addHandler(console)
    root.propagate = False
    return path
