"""The log never carries escape sequences from platforms to an admin's terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from opchat.logs import LogUnavailable, setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    logger = logging.getLogger("opchat")
    before = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in logger.handlers:
        handler.close()
    logger.handlers, logger.level, logger.propagate = before[0], before[1], before[2]


def test_log_lines_are_sanitised(tmp_path: Path) -> None:
    path = setup_logging(tmp_path)
    logging.getLogger("opchat.hub").warning("channel %s is down: %s", "shop",
                                            "bad \x1b]0;pwned\x07 gateway\x1b[2J")
    for handler in logging.getLogger("opchat").handlers:
        handler.flush()
    text = path.read_text()
    assert "bad  gateway" in text
    assert "\x1b" not in text and "\x07" not in text


def test_an_unopenable_log_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "opchat.log").mkdir()
    with pytest.raises(LogUnavailable, match="cannot open the log"):
        setup_logging(tmp_path)


WRITER = """
import logging, sys, time
from pathlib import Path
import opchat.logs as logs
logs.LOG_MAX_BYTES = 20_000
logs.LOG_BACKUPS = 9
logs.setup_logging(Path(sys.argv[1]))
log = logging.getLogger("opchat.test")
(Path(sys.argv[1]) / ("ready-" + sys.argv[2])).touch()
while len(list(Path(sys.argv[1]).glob("ready-*"))) < 2:  # both write at the same time
    time.sleep(0.001)
for n in range(int(sys.argv[3])):
    log.warning("%s line %05d %s", sys.argv[2], n, "x" * 60)
    time.sleep(0.0002)
"""


def test_processes_sharing_the_log_lose_no_line_when_it_rotates(tmp_path: Path) -> None:
    """Every operator's app and `opchat serve` write one opchat.log: rotation by one
    must not leave the other writing into a renamed file, nor rotate twice."""
    import subprocess
    import sys

    lines = 500  # ~120 bytes each: 2 × 60 KB, rotated at 20 KB, within the 9 backups
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), who, str(lines)])
               for who in ("anna", "serve")]
    for writer in writers:
        assert writer.wait(timeout=60) == 0
    files = [tmp_path / "opchat.log", *(tmp_path / f"opchat.log.{n}" for n in range(1, 10))]
    written = [line for f in files if f.exists()
               for line in f.read_text(encoding="utf-8").splitlines()]
    assert (tmp_path / "opchat.log.1").exists()  # it did rotate
    for who in ("anna", "serve"):
        numbers = sorted(int(line.split(f"{who} line ")[1][:5]) for line in written
                         if f"{who} line " in line)
        assert numbers == list(range(lines)), f"{who}: lines lost or doubled"
    sizes = [f.stat().st_size for f in files if f.exists()]
    # Nobody wrote on into a rotated file, and nobody rotated a file that was not full
    # (a second rotation pushes history off the end too soon).
    assert all(size <= 20_000 for size in sizes), sizes
    assert all(size >= 20_000 - 300 for size in sizes[1:]), sizes


@pytest.mark.parametrize(("dir_mode", "file_mode"), [(0o700, 0o600), (0o2770, 0o660)])
def test_the_log_lock_is_as_private_as_the_data_dir(tmp_path: Path, dir_mode: int,
                                                    file_mode: int) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(dir_mode)
    setup_logging(data)
    assert (data / "opchat.log.lock").stat().st_mode & 0o777 == file_mode


def test_a_traceback_goes_to_the_file_and_serve_shows_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = setup_logging(tmp_path, stderr=True)
    try:
        raise RuntimeError("nobody foresaw this")
    except RuntimeError:
        logging.getLogger("opchat.hub").warning("channel shop stopped", exc_info=True)
    for handler in logging.getLogger("opchat").handlers:
        handler.flush()
    assert "Traceback" in path.read_text() and "nobody foresaw this" in path.read_text()
    err = capsys.readouterr().err
    assert "channel shop stopped" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_bot_token_in_an_error_never_reaches_the_log(tmp_path: Path) -> None:
    path = setup_logging(tmp_path)
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    logging.getLogger("opchat.hub").warning(
        "cannot reach ftp://api.example/bot%s/getMe", token)
    for handler in logging.getLogger("opchat").handlers:
        handler.flush()
    text = path.read_text()
    assert "cannot reach ftp://api.example/bot…/getMe" in text and token not in text


class FullDisk:
    """A log file on a disk with no room left: every flush fails as a full disk's does."""

    def __init__(self, real) -> None:
        self.real = real

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        raise OSError(28, "No space left on device")

    def fileno(self) -> int:
        return self.real.fileno()

    def seek(self, *args: int) -> int:
        return self.real.seek(*args)

    def tell(self) -> int:
        return self.real.tell()

    def close(self) -> None:
        self.real.close()


def test_a_log_that_cannot_be_written_is_said_once_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from opchat.logs import SharedRotatingFileHandler

    path = setup_logging(tmp_path)
    [handler] = [h for h in logging.getLogger("opchat").handlers
                 if isinstance(h, SharedRotatingFileHandler)]
    real = handler.stream
    handler.stream = FullDisk(real)
    log = logging.getLogger("opchat.hub")
    try:
        for n in range(5):
            log.warning("channel shop: attempt %d", n)
    finally:
        handler.stream = real  # room again
    err = capsys.readouterr().err
    assert err == f"opchat: cannot write {path}: [Errno 28] No space left on device\n"
    log.warning("channel shop: back")
    assert capsys.readouterr().err == f"opchat: {path} is written again\n"
    handler.flush()
    assert "channel shop: back" in path.read_text()
