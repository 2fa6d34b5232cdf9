"""What every channel needs on our side: files it downloads, the secrets it keeps,
and the checks of what a webhook's sender signs.

Nothing a platform sends decides where a file lands: the name is built from
a digest of the file's handle and a cleaned copy of its file name, inside the
directory the caller gave. Files are written with the data dir's private mode
under a temporary name and renamed when complete, so a half-downloaded file
never passes for a whole one.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import os
import secrets
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

from opchat.config import private_modes
from opchat.model import Attachment
from opchat.privatefile import private_file

MAX_NAME = 80  # characters of the customer's file name kept in ours

# mimetypes' answers for the types platforms send, where they are odd or missing.
EXTENSIONS = {"image/jpeg": ".jpg", "audio/ogg": ".ogg", "audio/mpeg": ".mp3",
              "video/mp4": ".mp4", "image/webp": ".webp", "video/webm": ".webm",
              "application/x-tgsticker": ".tgs"}


def safe_name(attachment: Attachment) -> str:
    """A file name for ``attachment`` that cannot leave its directory; the same every time."""
    digest = hashlib.sha256(attachment.ref.encode()).hexdigest()[:12]
    # Only the last component of whatever path the sender's file name pretends to be.
    given = attachment.filename.replace("\\", "/").rsplit("/", 1)[-1]
    given = unicodedata.normalize("NFC", given)
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in given)
    cleaned = cleaned.lstrip("._")[-MAX_NAME:]
    if not cleaned:
        extension = EXTENSIONS.get(attachment.mime) or mimetypes.guess_extension(
            attachment.mime or "") or ""
        cleaned = f"{attachment.kind or 'file'}{extension}"
        cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in cleaned)
    return f"{digest}-{cleaned}"


async def write_private(target: Path, chunks: AsyncIterator[bytes],
                        modes: tuple[int, int] = (0o600, 0o700)) -> int:
    """Write the chunks to ``target`` with (file, directory) ``modes`` (see
    ``opchat.config.private_modes``); returns the size."""
    size = 0
    with private_file(target, modes) as file:
        async for chunk in chunks:
            file.write(chunk)
            size += len(chunk)
    return size


def load_secret(path: Path, data_dir: Path) -> str:
    """The secret kept in ``path``, created on first use (the data dir's private mode,
    0600 or 0660 in a group-shared dir). A webhook secret Telegram sends back may use only
    ``A-Z a-z 0-9 _ -``, which token_urlsafe gives; the file must hold at least 32 such
    characters, or it is refused (ValueError) rather than used."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private_modes(data_dir)[0])
    except FileExistsError:
        text = path.read_text().strip()
        if len(text) < 32 or not all(ch.isascii() and (ch.isalnum() or ch in "_-")
                                     for ch in text):
            raise ValueError(f"{path} is not a usable secret; delete it to make a new one"
                             ) from None
        return text
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, private_modes(data_dir)[0])  # whatever the umask did
    return secret


def same_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Whether a secret a request carries is ours, in constant time (no early exit that
    would tell an attacker how much of it was right)."""
    if isinstance(given, str):
        given = given.encode("utf-8", "replace")
    if isinstance(expected, str):
        expected = expected.encode()
    return hmac.compare_digest(given, expected)


def signed_by(secret: str | bytes, body: bytes, signature: str | None,
              prefix: str = "sha256=") -> bool:
    """Whether ``signature`` ("sha256=<hex>", as Meta's X-Hub-Signature-256) is the
    HMAC-SHA256 of the raw ``body`` under ``secret``; checked in constant time, before
    the body is parsed."""
    if not signature or not signature.startswith(prefix):
        return False
    key = secret.encode() if isinstance(secret, str) else secret
    wanted = prefix + hmac.new(key, body, hashlib.sha256).hexdigest()
    return same_secret(signature.strip().lower(), wanted)
