"""What a newcomer does next, said on the first start: by `opchat` before the app
takes the screen, by `opchat serve` on stdout, and by the app's empty inbox.

Light on purpose (the i18n catalogue only): the conversation list imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opchat.config import ChannelSettings
from opchat.i18n import _


def readme_location() -> str:
    """Where a person reads more: the README beside the code, else how to find it."""
    source = Path(__file__).resolve().parent.parent / "README.md"
    if source.is_file():
        return str(source)
    return _("the project's description (python -m pip show -v opchat)")


def next_steps(channels: Sequence[ChannelSettings]) -> list[str]:
    """The web chats customers can write to now, adding a channel, the README."""
    from opchat.transports import DEFAULT_LISTEN  # the contract's constant, no transport

    lines = []
    for channel in channels:
        if channel.kind != "webchat":
            continue
        public = channel.options.get("public_url")
        address = (str(public).rstrip("/") if public
                   else f"http://{channel.options.get('listen') or DEFAULT_LISTEN}")
        lines.append(_("Customers can write to you now through the web chat: open "
                       "{address}/ in a browser to play a customer.", address=address))
    if any(channel.kind != "webchat" for channel in channels):
        # A messenger is there already: no suggestion to add the one it may be.
        add = _("Add another channel: opchat channel add KIND (see opchat channel add "
                "--help).")
    else:
        add = _("Add a channel: opchat channel add telegram --token 123456:ABC… "
                "(see opchat channel add --help).")
    return [*lines, add, _("README: {where}", where=readme_location())]
