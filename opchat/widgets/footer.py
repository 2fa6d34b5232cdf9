"""The inbox screen's footer: Textual's, rebuilt only when the keys it shows change.

Textual's `Footer` rebuilds its keys (two dozen widgets, each styled as it is
mounted: ~9 ms on a small server) whenever the screen says its bindings may
have changed, and a change of focus says so twice: at once and after the next
frame. Opening a dialog from the list moves the focus to the reply box, so it
paid twice for one change, before the dialog could be drawn (the thread holds
the frame until its page is in, see `ThreadView.show`). This one rebuilds once
per change, and not at all when the keys it would show are the ones it shows;
while the frame is held, after that frame (`FrameHold.after`).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

from opchat.widgets.frame_hold import frame_hold

__all__ = ["InboxFooter"]


class InboxFooter(Footer):
    def __init__(self, *, compact: bool = False, show_command_palette: bool = True) -> None:
        super().__init__(compact=compact, show_command_palette=show_command_palette)
        self._shown: tuple | None = None  # what the keys were last built from
        self._asked = False  # a rebuild is due after the next frame

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if (screen.app.app_focus and self.is_attached and screen is self.screen
                and not self._asked):
            self._asked = True
            frame_hold(self.app).after(self, self._rebuild)

    def _keys(self) -> tuple:
        """What `Footer.compose` builds its keys from, as it would now."""
        app = self.app
        return (self.compact, self.show_command_palette, tuple(
            (binding.key, app.get_key_display(binding), binding.description, binding.action,
             binding.group, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show))

    async def _rebuild(self) -> None:
        self._asked = False
        if not self.is_attached:
            return
        keys = self._keys()
        if keys != self._shown:
            self._shown = keys
            await self.recompose()
