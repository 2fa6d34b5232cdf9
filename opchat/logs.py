"""Where errors and warnings go: a rotating file in the data dir (and stderr for `serve`)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from opchat.config import private_modes
from opchat.sanitize import clean, redact

LOG_FILENAME = "opchat.log"
LOG_MAX_BYTES = 2_000_000
LOG_BACKUPS = 3


class CleanFormatter(logging.Formatter):
    """Log lines quote platforms and customers: no escape sequence reaches a terminal.

    An admin reads the log with `tail` and `opchat serve` writes to a terminal,
    so the formatted line (tracebacks included) goes through the same
    sanitising as everything on the app's screen.
    """

    def format(self, record: logging.LogRecord) -> str:
        return redact(clean(super().format(record)))


class OneLineFormatter(CleanFormatter):
    """For `opchat serve`'s stderr: the line alone; tracebacks stay in opchat.log."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None,
                                            "exc_text": None, "stack_info": None})
        return super().format(record)


class LogUnavailable(OSError):
    pass


class SharedRotatingFileHandler(RotatingFileHandler):
    """A rotating log that several processes write at once: every operator's app and
    `opchat serve` share one data dir and so one `opchat.log`.

    The standard handler decides alone to rename the file it writes: another
    process keeps writing into the renamed file, and two of them rotate twice.
    Here each line is written under an exclusive lock on `opchat.log.lock`; with
    the lock held, a handler whose file was renamed by another process opens the
    new one first, and only then decides whether it is time to rotate.
    """

    def __init__(self, filename: Path, max_bytes: int, backup_count: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backup_count,
                         encoding="utf-8")
        path = f"{self.baseFilename}.lock"
        mode, _ = private_modes(Path(self.baseFilename).parent)  # a team's dir: group too
        self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
        with contextlib.suppress(OSError):  # someone else's lock file: theirs to set
            os.fchmod(self._lock_fd, mode)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except OSError:
            self.handleError(record)
            return
        try:
            self._follow_rotation()
            self._failed = False
            super().emit(record)  # rotates if due, writes, flushes; errors: handleError
            if self._failing and not self._failed:
                self._failing = False
                self._say(f"opchat: {self.baseFilename} is written again")
        except OSError:
            self.handleError(record)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # A log that cannot be written (a full disk) is said once on stderr, in one line, and
    # again only after writing has worked in between: not logging's traceback per record.
    _failing = False
    _failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        self._failed = True
        if not self._failing:
            self._failing = True
            error = sys.exc_info()[1]
            self._say(f"opchat: cannot write {self.baseFilename}: {error}")

    @staticmethod
    def _say(line: str) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def _follow_rotation(self) -> None:
        """Reopen the log if another process has rotated it away from under us."""
        if self.stream is None:
            return
        try:
            current = os.stat(self.baseFilename)
        except FileNotFoundError:
            current = None
        ours = os.fstat(self.stream.fileno())
        if current is None or (current.st_dev, current.st_ino) != (ours.st_dev, ours.st_ino):
            self.stream.close()
            self.stream = self._open()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1


def setup_logging(data_dir: Path, level: str = "INFO", stderr: bool = False) -> Path:
    path = Path(data_dir) / LOG_FILENAME
    root = logging.getLogger("opchat")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    # The log may quote customers: it is as private as the data dir (see cli.private_files_for).
    try:
        file_handler = SharedRotatingFileHandler(path, LOG_MAX_BYTES, LOG_BACKUPS)
    except OSError as exc:
        raise LogUnavailable(f"cannot open the log {path}: {exc.strerror or exc}") from exc
    file_handler.setFormatter(CleanFormatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            "%H:%M:%S"))
        root.addHandler(console)
    root.propagate = False
    return path
