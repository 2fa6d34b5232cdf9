"""What channels' transports share beyond the contract (``opchat.transports``): a secret
that must be set, text cut into the parts a platform takes, a file that could not be
fetched. Light: no aiohttp, no SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opchat.config import ChannelSettings


class DownloadError(Exception):
    """A file could not be fetched; the message says why, for the operator."""


def required(channel: ChannelSettings, key: str) -> str:
    """A secret the channel cannot run without, from the file or its variable."""
    value = channel.secret(key)
    if not value:
        variable = channel.options.get(f"{key}_env")
        raise ValueError(f"environment variable {variable} is empty or unset" if variable
                         else f"no {key}: set {key}, or {key}_env naming the variable "
                              "that holds it")
    return value.strip()


def split(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut between words where it can."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text or not parts else parts
