"""Where errors and warnings go: a rotating file in the data dir (and stderr for `serve`)."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILENAME = "opchat.log"


def setup_logging(data_dir: Path, level: str = "INFO", stderr: bool = False) -> Path:
    path = Path(data_dir) / LOG_FILENAME
    root = logging.getLogger("opchat")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    # The log may quote customers: it is as private as the data dir (see cli.private_files_for).
    file_handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               "%H:%M:%S"))
        root.addHandler(console)
    root.propagate = False
    return path
