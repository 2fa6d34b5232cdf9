"""The widgets of the inbox screen, and the little they share.

Each widget lives in its own module with its `.tcss` beside it; import them
from there (``from opchat.widgets.thread_view import ThreadView``). This
package module holds only what several of them need:

* `WorkFailed` and `ReportsWorkerErrors`: a worker's exception is forwarded
  to the app, which is the one place that logs it and shows a one-line
  summary (Textual's own `Worker.StateChanged` does not bubble).
* `component_style`: a component class's own style for drawing on top of
  other styles (a cursor, a selection).
* `clock_label`: a timestamp as the list and the thread show it.
* `InboxScrollView`: what the conversation list and the thread, both Line-API
  views fed by the inbox, are built with.
* `translate_bindings`: binding descriptions are written as ``_("…")`` at
  class level, which runs at import time, before the CLI has chosen the
  language; each instance translates its copy again when it is built.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from rich.style import Style
from textual.binding import Binding
from textual.dom import DOMNode
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from opchat.i18n import _

__all__ = [
    "InboxScrollView",
    "ReportsWorkerErrors",
    "WorkFailed",
    "clock_label",
    "component_style",
    "translate_bindings",
]


class WorkFailed(Message):
    """A worker raised; the app logs it and tells the operator in one line."""

    def __init__(self, worker: Worker, error: BaseException) -> None:
        super().__init__()
        self.worker = worker
        self.error = error


class ReportsWorkerErrors:
    """Mixin for widgets and screens: pass failed workers up to the app."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            node: DOMNode = self  # type: ignore[assignment]
            node.post_message(WorkFailed(event.worker, event.worker.error))


class InboxScrollView(ReportsWorkerErrors, ScrollView):
    """A Line-API view of what the inbox holds (the list, the thread): the settings and
    clock it draws with, its bindings in the current language, and the inbox once open."""

    def __init__(
        self,
        settings: Any,
        clock: Any,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        translate_bindings(self)
        self.settings = settings
        self.clock = clock
        self.inbox: Any = None  # an opchat.inbox.Inbox once attached


def translate_bindings(node: DOMNode) -> None:
    """Replace `node`'s bindings with copies whose texts are in the current language.

    English descriptions are the message ids, so translating a description
    that is already translated (the language was set before import) is a
    no-op.
    """
    bindings = node._bindings  # a per-instance copy made by DOMNode.__init__
    for key, key_bindings in list(bindings.key_to_bindings.items()):
        bindings.key_to_bindings[key] = [_translated(binding) for binding in key_bindings]


def _translated(binding: Binding) -> Binding:
    if not binding.description and not binding.tooltip:
        return binding
    return dataclasses.replace(
        binding,
        description=_(binding.description) if binding.description else "",
        tooltip=_(binding.tooltip) if binding.tooltip else "",
    )


def clock_label(at: float, now: float) -> str:
    """When `at` was, said short: "14:05" today, "12.03" this year, else "12.03.24"."""
    moment, today = time.localtime(at), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    if moment.tm_year == today.tm_year:
        return time.strftime("%d.%m", moment)
    return time.strftime("%d.%m.%y", moment)


def component_style(widget: Widget, component: str) -> Style:
    """The style `component` sets itself, with its colours blended as they show.

    Textual's full component style also carries the widget's background,
    which would paint over a cursor drawn beneath; its partial style drops the
    alpha of colours like ``$text-muted``. This takes the attributes and the
    colours the component sets, each colour as blended in the full style.
    """
    full = widget.get_component_rich_style(component)
    own = widget.get_component_rich_style(component, partial=True)
    return own.without_color + Style(
        color=full.color if own.color is not None else None,
        bgcolor=full.bgcolor if own.bgcolor is not None else None,
    )
