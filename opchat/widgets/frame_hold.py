"""Holding the app's next frame while a pane waits for what it will show.

Opening a dialog changes the list's cursor, the title, the reply box and the
thread; the thread's messages come from the store a few milliseconds later.
Drawn at once, the operator gets a frame with "Loading…" and the dialog one
tick (16 ms) later, each frame a full repaint. `FrameHold.hold` stops the
app's frames (Textual's `batch_update`) until the pane calls `release`, or
for at most the time it gave: the dialog is drawn whole, in one frame.

Work that does not change what the operator waits for (the footer's keys
after the focus moved) asks `after`: it runs after the frame that ends the
hold, instead of before it (Textual runs `call_after_refresh` callbacks at
once while a batch is held, since no frame comes).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from textual.app import App, ScreenStackError
from textual.message_pump import MessagePump
from textual.timer import Timer

__all__ = ["FrameHold", "frame_hold"]

_HOLDS: weakref.WeakKeyDictionary[App[Any], FrameHold] = weakref.WeakKeyDictionary()


def frame_hold(app: App[Any]) -> FrameHold:
    """The app's one `FrameHold`."""
    hold = _HOLDS.get(app)
    if hold is None:
        hold = _HOLDS[app] = FrameHold(app)
    return hold


class FrameHold:
    def __init__(self, app: App[Any]) -> None:
        self._app = app
        self._batch: AbstractContextManager[None] | None = None
        self._timer: Timer | None = None
        self._after: list[tuple[MessagePump, Callable[[], Any]]] = []

    @property
    def held(self) -> bool:
        return self._batch is not None

    def hold(self, at_most: float) -> None:
        """Draw no frame until `release`, or for `at_most` seconds. Holding again while
        held changes nothing: the first hold's limit stands."""
        if self._batch is None:
            self._batch = self._app.batch_update()
            self._batch.__enter__()
            self._timer = self._app.set_timer(at_most, self.release, name="frame hold")

    def release(self) -> None:
        """Draw what changed, then run what waited for that frame."""
        batch, self._batch = self._batch, None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if batch is None:
            return
        batch.__exit__(None, None, None)
        try:
            self._app.screen.check_idle()  # the frame, now
        except ScreenStackError:  # the app is closing
            return
        after, self._after = self._after, []
        for node, callback in after:
            # Asked by the node itself, so that the callback runs as the node's own.
            node.call_later(node.call_after_refresh, callback)

    def after(self, node: MessagePump, callback: Callable[[], Any]) -> None:
        """Have `node` run `callback` after the next frame (the one that ends the hold,
        if held)."""
        if self._batch is None:
            node.call_after_refresh(callback)
        else:
            self._after.append((node, callback))
