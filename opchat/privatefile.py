"""Writing a file nobody else may read, and nobody sees half written."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def private_file(target: Path, modes: tuple[int, int]) -> Iterator[BinaryIO]:
    """A file to write, under a temporary name beside ``target``, with the (file,
    directory) ``modes`` (see ``opchat.config.private_modes``; the directory is made if
    missing). It becomes ``target`` when the block ends; if the block raises, it is
    removed and ``target`` is left as it was."""
    file_mode, dir_mode = modes
    if not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.parent.chmod(dir_mode)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
        os.chmod(temporary, file_mode)  # whatever the umask did
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
