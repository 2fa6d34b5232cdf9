"""The right side of the inbox screen: the open dialog, its messages and the reply box.

`ThreadPane` holds the thread's title, the `ThreadView`, the line that says
who else is here, the `/` drop-down and the `Composer`, and does what acts
on them: quick replies (the palette, the drop-down, keys bound to a reply in
the config's `[reply_keys]`), private notes, files sent with a reply and
files customers sent, retrying and hiding a message, dismissing a failure.
The requests its widgets post (`ThreadView.RetryRequested`, `HideRequested`,
`FileRequested`, `Composer.ReplyChosen`) bubble up to it and stop here.

The open dialog and the inbox flow down from the screen (`data_bind`); the
screen keeps sending, drafts and "typing…", which need the keys the app holds
back while a draft loads. The pane's keys work whatever has focus, in the list
too, so the screen binds them (`SCREEN_BINDINGS`, listed in its `BINDINGS`)
and passes the action on: Textual runs a widget's own bindings only while it
or a widget inside it has focus.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NamedTuple, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import var
from textual.widgets import Static

from opchat.i18n import _
from opchat.model import Conversation, EventKind, MessageState, Status
from opchat.sanitize import one_line, safe_content
from opchat.templates import Unfilled
from opchat.templates import read as read_template
from opchat.templates import slots as template_slots
from opchat.templates import text_of as template_text
from opchat.viewer import open_in_viewer, readable_file
from opchat.when import short_duration
from opchat.widgets import ReportsWorkerErrors
from opchat.widgets.composer import Composer
from opchat.widgets.contact_panel import status_name
from opchat.widgets.conversation_list import channel_tag
from opchat.widgets.quick_replies import quick_reply_palette
from opchat.widgets.reply_completion import ReplyCompletion
from opchat.widgets.thread_view import ThreadView
from opchat.widgets.view_tabs import label_colour
from opchat.window import SOON, header_note, time_left

if TYPE_CHECKING:
    from textual.widgets.text_area import Location

    from opchat.app import OpchatApp
    from opchat.config import Settings
    from opchat.inbox import Inbox
    from opchat.model import Attachment, Event, QuickReply, Template, TemplateUse

REPLY_EVENTS = (EventKind.QUICK_REPLIES_SAVED, EventKind.QUICK_REPLIES_DELETED)
WINDOW_TICK = 60.0  # seconds between redraws of the title's reply window
MAX_FILE = 50 * 1024 * 1024  # bytes: the most a bot may send on Telegram, a sane cap for all
PICTURES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})


class Verdict(NamedTuple):
    """What `ThreadPane.check_reply` found: send it (as ``template``, if one), or why
    not (``refused``)."""

    template: TemplateUse | None = None
    refused: str = ""


class ThreadPane(ReportsWorkerErrors, Vertical):
    """The open dialog: title, messages, who else is here, the reply box."""

    # Bound by the screen (see the module's docstring). Priority, but for F3: they work
    # while typing too.
    SCREEN_BINDINGS: ClassVar[dict[str, Binding]] = {
        "quick_replies": Binding(
            "ctrl+r", "quick_replies", _("Replies"), key_display="^r", priority=True,
            id="opchat.quick_replies", tooltip=_("Insert a saved reply (fuzzy search)")),
        "manage_replies": Binding(
            "f3", "manage_replies", _("Edit replies"), show=False, id="opchat.manage_replies",
            tooltip=_("Add, change, delete and preview quick replies")),
        "note_mode": Binding(
            "alt+n", "note_mode", _("Note"), show=False, priority=True, id="opchat.note_mode",
            tooltip=_("Write a private note instead of a reply (only operators see it)")),
        "attach_file": Binding(
            "ctrl+t", "attach_file", _("Attach"), show=False, priority=True,
            id="opchat.attach_file",
            tooltip=_("Send a file with the reply (a path on this machine)")),
        "template": Binding(
            "alt+t", "template", _("Template"), show=False, priority=True,
            id="opchat.template",
            tooltip=_("Write from an approved message template (WhatsApp; all it takes "
                      "once the 24-hour window has closed)")),
        "dismiss_failure": Binding(
            "alt+x", "dismiss_failure", _("Dismiss failure"), show=False, priority=True,
            id="opchat.dismiss_failure",
            tooltip=_("Stop waiting on the failed reply (the selected message, or the "
                      "conversation's); recorded with your name")),
    }

    opened: var[Conversation | None] = var(None)  # bound to the screen's
    inbox: var[Inbox | None] = var(None)  # bound to the screen's
    # Each channel's reply window in seconds (Meta's 24 hours), set by the screen.
    windows: var[dict[str, int]] = var(dict)
    # The channels whose templates may go past the window (WhatsApp), set by the screen.
    templated: var[frozenset[str]] = var(frozenset)

    def __init__(self, settings: Settings, clock: Callable[[], float], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.settings = settings
        self.clock = clock
        self.note_mode = False
        self.outgoing_files: dict[int, list[Path]] = {}  # per dialog, for its next reply
        self._files_wanted: set[int] = set()  # attachments this operator asked the hub for
        self.replies: list[QuickReply] = []
        self._reply_variables: dict[str, str] = {}
        self.templates: dict[int, Template] = {}  # per dialog: its reply is this template
        self._replaced: dict[int, str] = {}  # per dialog: what the template's text replaced

    def compose(self) -> ComposeResult:
        yield Static(Content(""), id="thread-title")
        yield ThreadView(self.settings, self.clock, id="thread")
        yield Static(Content(""), id="thread-activity")
        yield ReplyCompletion(id="reply-completion")
        yield Composer(id="composer")

    @property
    def thread(self) -> ThreadView:
        return self.query_one(ThreadView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def activity_line(self) -> Static:
        """Under the thread: who else is here, who is typing."""
        return self.query_one("#thread-activity", Static)

    def on_mount(self) -> None:
        self.activity_line.display = False
        # A reply window closes as time passes: the title says how long is left.
        self.set_interval(WINDOW_TICK, self._window_tick)

    def watch_opened(self, conversation: Conversation | None) -> None:
        if conversation is not None:
            self._show_title(conversation)
        self._show_template_hint()

    def watch_windows(self) -> None:
        if self.opened is not None:
            self._show_title(self.opened)

    def _window_tick(self) -> None:
        if self.opened is not None and self.windows.get(self.opened.channel_name):
            self._show_title(self.opened)

    def window_left(self, conversation: Conversation) -> float | None:
        """Seconds until the dialog's reply window closes (≤ 0: closed); None: no window."""
        return time_left(conversation, self.windows.get(conversation.channel_name, 0),
                         self.clock())

    def _show_title(self, conversation: Conversation) -> None:
        tag, colour = channel_tag(conversation.channel_kind)
        parts: list[Content | tuple[str, str]] = [
            (f" {tag} ", f"bold {colour}"),
            safe_content(one_line(conversation.contact_name, 200) or "—", "bold"),
        ]
        # How long the reply window has left comes before the rest: it decides what
        # may be sent at all.
        left = self.window_left(conversation)
        note = header_note(left, conversation.channel_name in self.templated)
        if note:
            closing = left is not None and left <= SOON
            parts.append((f"  ⌛ {note}", "bold red" if closing else "yellow"))
        parts += [("  ", ""), safe_content(one_line(conversation.channel_name, 40), "dim")]
        if conversation.status is not Status.OPEN:
            parts.append((f"  · {status_name(conversation.status)}", "italic"))
        if conversation.assignee:
            parts += [("  → ", "dim"), safe_content(one_line(conversation.assignee, 40))]
        for label in conversation.labels:
            parts += [("  ", ""), safe_content(f"#{one_line(label, 40)}",
                                               f"bold {label_colour(label)}")]
        self.query_one("#thread-title", Static).update(Content.assemble(*parts))

    # The reply window and templates -------------------------------------------------------

    def check_reply(self, text: str) -> Verdict:
        """Whether the text typed for the open dialog may go as a reply now: as the
        template chosen with Alt+T (its {{n}} filled in place), or freely within the
        channel's reply window; else why not, in words for the operator."""
        opened = self.opened
        if opened is None:
            return Verdict()
        template = self.templates.get(opened.id)
        if template is not None:
            try:
                use = read_template(template, text, template_slots)
            except Unfilled as problem:
                return Verdict(refused=_("Template {name}: {problem}", name=template.name,
                                         problem=problem.reason))
            del self.templates[opened.id]
            self._replaced.pop(opened.id, None)
            self._show_template_hint()
            return Verdict(template=use)
        left = self.window_left(opened)
        if left is not None and left <= 0:
            words = {"customer": one_line(opened.contact_name, 40) or "—",
                     "window": short_duration(self.windows.get(opened.channel_name, 0)),
                     "channel": one_line(opened.channel_name, 40)}
            if opened.channel_name in self.templated:
                return Verdict(refused=_(
                    "{customer} last wrote more than {window} ago: {channel} takes only an "
                    "approved template now. Alt+T picks one.", **words))
            return Verdict(refused=_(
                "{customer} last wrote more than {window} ago: {channel} takes no reply "
                "until they write again.", **words))
        return Verdict()

    def action_template(self) -> None:
        """Alt+T: put an approved template's text in the reply box, to fill its {{n}}."""
        opened = self._need_opened()
        if opened is not None:
            self._pick_template(opened)

    @work(group="template", exclusive=True, exit_on_error=False)
    async def _pick_template(self, opened: Conversation) -> None:
        assert self.inbox is not None
        templates = await self.inbox.templates(opened)
        if not templates:
            self.notify(_("{channel} has no approved message templates (opchat channel "
                          "templates {channel} fetches them).",
                          channel=one_line(opened.channel_name, 40)),
                        severity="warning", markup=False, timeout=6)
            return
        from opchat.screens.pick import Choice, Picked, PickScreen

        choices = [Choice(str(n), f"{t.name} ({t.language})", one_line(t.body, 60))
                   for n, t in enumerate(templates)]
        if opened.id in self.templates:
            choices.insert(0, Choice("none", _("no template: a reply of my own")))

        def picked(answer: Picked | None) -> None:
            if answer is None or answer.key is None or self.opened is None \
                    or self.opened.id != opened.id:
                return
            if answer.key == "none":
                self.templates.pop(opened.id, None)
                self.composer.load_text(self._replaced.pop(opened.id, ""))
                self._show_template_hint()
                return
            template = templates[int(answer.key)]
            composer = self.composer
            own = composer.text if opened.id not in self.templates else ""
            if own.strip():
                self._replaced[opened.id] = own  # "no template" gives it back
            self.templates[opened.id] = template
            # Its variables are the reply box's {slots}: the first is selected, typing
            # fills it, Tab goes to the next, as in a quick reply.
            text = template_text(template, template_slots)
            composer.clear()
            from opchat.placeholders import Expansion, find_slots

            composer.insert_expansion(Expansion(text, tuple(find_slots(text))))
            composer.focus()
            self._show_template_hint()

        self.app.push_screen(PickScreen(_("Send an approved template"), choices), picked)

    def _show_template_hint(self) -> None:
        """The reply box's top edge names the template the open dialog's reply will be."""
        opened = self.opened
        template = self.templates.get(opened.id) if opened is not None else None
        self.composer.set_template(None if template is None else _(
            "Template {name}: type over each {{…}}, Tab to the next; Enter sends it",
            name=template.name))

    def _need_opened(self) -> Conversation | None:
        if self.inbox is None:
            return None
        if self.opened is None:
            self.notify(_("Open a conversation first."), markup=False, timeout=3)
        return self.opened

    def apply_events(self, events: Iterable[Event]) -> None:
        """A batch of change events: the replies anyone saved, the files asked for."""
        if any(event.kind in REPLY_EVENTS for event in events):
            self.reload_replies()
        for event in events:
            if event.kind in (EventKind.ATTACHMENT_READY, EventKind.ATTACHMENT_FAILED):
                self._file_event(event)

    # Quick replies --------------------------------------------------------------------

    def attach_replies(self) -> None:
        """The inbox is open: load the replies for the reply box's `/` drop-down."""
        self.replies = []
        self._reply_variables = {}
        self.composer.completion = self.query_one(ReplyCompletion)
        self.reload_replies()

    @work(group="replies-load", exclusive=True, exit_on_error=False)
    async def reload_replies(self) -> None:
        await self._load_replies()

    async def _load_replies(self) -> None:
        if self.inbox is None:
            return
        self.replies = await self.inbox.quick_replies()
        self.composer.completion.set_replies(self.replies)  # type: ignore[union-attr]

    def replies_for(self, conversation: Conversation) -> None:
        """A dialog was opened: its variables, at once from what the list knows, then all."""
        assert self.inbox is not None
        operator = self.inbox.operator
        from opchat.placeholders import reply_values

        self._set_variables(reply_values(
            contact_name=conversation.contact_name, operator_name=operator.name,
            operator_login=operator.login, conversation_id=conversation.id,
            channel_name=conversation.channel_name, now=self.inbox.clock()))
        self._load_variables(conversation)

    @work(group="reply-variables", exclusive=True, exit_on_error=False)
    async def _load_variables(self, conversation: Conversation) -> None:
        assert self.inbox is not None
        values = await self.inbox.reply_values(conversation)
        if self.opened is not None and self.opened.id == conversation.id:
            self._set_variables(values)

    def _set_variables(self, values: dict[str, str]) -> None:
        self._reply_variables = values
        composer = self.composer
        composer.variables = values
        composer._build_highlight_map()
        composer.refresh()

    def variables_now(self) -> dict[str, str]:
        assert self.inbox is not None
        from opchat.placeholders import clock_values

        return {**self._reply_variables, **clock_values(self.inbox.clock())}

    def action_quick_replies(self) -> None:
        if self.inbox is None:
            return
        if self.opened is None or self.composer.disabled:
            self.notify(_("Open a conversation first."), markup=False, timeout=3)
            return
        self._open_palette()

    @work(group="quick-replies", exclusive=True, exit_on_error=False)
    async def _open_palette(self) -> None:
        assert self.inbox is not None
        replies = await self.inbox.quick_replies()
        if not replies:
            self.notify(_("No quick replies yet: F3 adds one, or `opchat replies starter`."),
                        markup=False, timeout=5)
            return
        await self.app.push_screen(quick_reply_palette(replies, self.insert_reply,
                                                       self.variables_now()))

    @on(Composer.ReplyChosen)
    def _reply_chosen(self, event: Composer.ReplyChosen) -> None:
        event.stop()
        self.insert_reply(event.reply, (event.start, event.end))

    def action_reply_key(self, shortcut: str) -> None:
        reply = next((r for r in self.replies if r.shortcut == shortcut), None)
        if reply is None:
            self.notify(_("No quick reply /{shortcut}.", shortcut=shortcut), markup=False,
                        timeout=4)
            return
        if self.opened is None or self.composer.disabled:
            self.notify(_("Open a conversation first."), markup=False, timeout=3)
            return
        self.insert_reply(reply)

    def insert_reply(self, reply: QuickReply,
                     replace: tuple[Location, Location] | None = None) -> None:
        """Put a reply, its variables filled in, at the cursor (or over `/…`); it stays editable.

        Several replies can go into one message this way, one after another.
        """
        composer = self.composer
        if composer.disabled:
            return
        composer.focus()
        kind = self.opened.channel_kind if self.opened is not None else ""
        from opchat.placeholders import expand
        from opchat.replies import reply_text

        composer.insert_expansion(expand(reply_text(reply, kind), self.variables_now()),
                                  replace)
        attachment = getattr(reply, "attachment", None)
        if attachment and self.opened is not None:
            problem = file_problem(attachment)
            if problem:
                self.notify(_("This reply comes with a file, which cannot be sent: {problem}",
                              problem=problem), markup=False, timeout=6)
            else:
                opened = self.opened.id
                path = Path(attachment).expanduser().resolve()
                files = list(self.outgoing_files.get(opened, []))
                if path not in files:
                    self.set_outgoing_files(opened, [*files, path])
        if self.inbox is not None:
            self._used(reply.id)

    @work(exit_on_error=False)
    async def _used(self, reply_id: int) -> None:
        assert self.inbox is not None
        await self.inbox.quick_reply_used(reply_id)
        await self._load_replies()  # most used first, in the drop-down too

    def action_manage_replies(self) -> None:
        if self.inbox is None:
            return
        from opchat.screens.replies import RepliesScreen

        self.app.push_screen(RepliesScreen(self.inbox, self.variables_now()))

    # Private notes ----------------------------------------------------------------------

    def action_note_mode(self) -> None:
        if self._need_opened() is not None:
            self.set_note_mode(not self.note_mode)
            self.composer.focus()

    def set_note_mode(self, on: bool) -> None:
        self.note_mode = on
        composer = self.composer
        composer.set_class(on, "note")
        composer.set_note(_("Private note: only operators see it") if on else None)

    # A failed reply ---------------------------------------------------------------------

    @on(ThreadView.RetryRequested)
    def _retry(self, event: ThreadView.RetryRequested) -> None:
        event.stop()
        if self.inbox is not None:
            self._requeue(event.message.id)

    @work(exit_on_error=False)
    async def _requeue(self, message_id: int) -> None:
        assert self.inbox is not None
        if await self.inbox.retry(message_id):
            self.notify(_("The message is queued again."), markup=False, timeout=3)
        self.thread.update_message(message_id)

    def action_dismiss_failure(self) -> None:
        """Alt+X: the last reply failed and the operator lets it be (the customer blocked
        the bot, say): the dialog stops waiting on it. A failed message selected in the
        thread is the one meant; otherwise the dialog's."""
        opened = self._need_opened()
        if opened is None:
            return
        selected = self.thread.selected
        message_id = (selected.id if selected is not None
                      and selected.state is MessageState.FAILED else None)
        self._dismiss_failure(opened.id, message_id)

    @work(exit_on_error=False)
    async def _dismiss_failure(self, conversation_id: int, message_id: int | None) -> None:
        assert self.inbox is not None
        if await self.inbox.dismiss_failure(conversation_id, message_id):
            text = _("Failure dismissed: the conversation no longer waits on it.")
        elif message_id is not None:
            text = _("That failure was dismissed or answered already.")
        else:
            text = _("No failed reply keeps this conversation waiting.")
        self.notify(text, markup=False, timeout=3)

    # Hiding a message with a trace ------------------------------------------------------

    @on(ThreadView.HideRequested)
    def _ask_hide_message(self, event: ThreadView.HideRequested) -> None:
        event.stop()
        message = event.message
        body = Content.assemble(
            safe_content(one_line(message.body, 300) or "—", "italic"), ("\n\n", ""),
            (_("It leaves the thread but stays stored; opchat audit shows who hid it "
               "and `opchat unhide message {id}` brings it back.", id=message.id), "dim"))

        def answered(confirmed: bool | None) -> None:
            if confirmed and self.inbox is not None:
                self._hide_message(message.id)

        from opchat.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(_("Hide this message?"), body, _("hide")), answered)

    @work(exit_on_error=False)
    async def _hide_message(self, message_id: int) -> None:
        assert self.inbox is not None
        if await self.inbox.hide_message(message_id):
            self.thread.drop(message_id)
            self.notify(_("Message hidden."), markup=False, timeout=3)

    # Files sent with the reply ----------------------------------------------------------

    def action_attach_file(self) -> None:
        """Ctrl+T: choose a file (a path on this machine) to send with the next reply."""
        opened = self._need_opened()
        if opened is not None:
            self._attach_file(opened)

    @work(group="attach", exclusive=True, exit_on_error=False)
    async def _attach_file(self, opened: Conversation) -> None:
        assert self.inbox is not None
        # The hub records what each channel's transport can carry; the UI reads it from
        # the store, so it can say so now rather than queue a reply bound to fail.
        channel = next((c for c in await self.inbox.channels()
                        if c.name == opened.channel_name), None)
        if channel is not None and channel.carries_files is False:
            self.notify(_("{channel} cannot carry files: send the text alone.",
                          channel=one_line(opened.channel_name, 40)),
                        severity="warning", markup=False, timeout=5)
            return
        pending = self.outgoing_files.get(opened.id, [])
        from opchat.screens.pick import Choice, Picked, PickScreen

        choices = [Choice(f"rm:{n}", path.name, _("attached: Enter removes it"))
                   for n, path in enumerate(pending)]

        def picked(answer: Picked | None) -> None:
            files = list(self.outgoing_files.get(opened.id, []))
            if answer is None:
                return
            if answer.key is not None and answer.key.startswith("rm:"):
                del files[int(answer.key[3:])]
            else:
                files.append(Path(answer.text).expanduser().resolve())
            self.set_outgoing_files(opened.id, files)
            self.composer.focus()

        self.app.push_screen(PickScreen(_("Send a file with the reply"), choices,
                                        typed=_("the file's path, e.g. ~/price-list.pdf"),
                                        check=file_problem), picked)

    def set_outgoing_files(self, conversation_id: int, files: list[Path]) -> None:
        if files:
            self.outgoing_files[conversation_id] = files
        else:
            self.outgoing_files.pop(conversation_id, None)
        if self.opened is not None and self.opened.id == conversation_id:
            self.composer.set_files(files)

    # Files customers sent ---------------------------------------------------------------

    @on(ThreadView.FileRequested)
    def _file_requested(self, event: ThreadView.FileRequested) -> None:
        event.stop()
        attachments = [a for a in event.message.attachments if a.id is not None]
        if len(attachments) == 1:
            self._want_file(attachments[0])
            return
        from opchat.screens.pick import Choice, Picked, PickScreen

        choices = [Choice(str(a.id), a.filename or a.kind, a.kind) for a in attachments]

        def picked(answer: Picked | None) -> None:
            chosen = [a for a in attachments if answer is not None and str(a.id) == answer.key]
            if chosen:
                self._want_file(chosen[0])

        self.app.push_screen(PickScreen(_("Which file?"), choices), picked)

    def _want_file(self, attachment: Attachment) -> None:
        assert attachment.id is not None
        if attachment.local_path and readable_file(attachment.local_path):
            self._show_file(Path(attachment.local_path))
        elif self.inbox is not None:
            self._request_attachment(attachment.id)

    @work(exit_on_error=False)
    async def _request_attachment(self, attachment_id: int) -> None:
        assert self.inbox is not None
        # Saved on another machine: a PostgreSQL store may hold it for this one.
        path = await self.inbox.open_attachment(attachment_id)
        if path is not None:
            self._show_file(path)
            return
        self._files_wanted.add(attachment_id)
        self.notify(_("Fetching the file…"), markup=False, timeout=3)
        await self.inbox.request_attachment(attachment_id)

    def _file_event(self, event: Event) -> None:
        from opchat.model import AttachmentData  # loaded with the events

        data = event.payload
        if not isinstance(data, AttachmentData):
            return
        attachment_id = data.attachment
        if attachment_id not in self._files_wanted:
            return  # another operator's request
        self._files_wanted.discard(attachment_id)
        if event.kind == EventKind.ATTACHMENT_FAILED:
            app = cast("OpchatApp", self.app)  # the only app the inbox screen runs in
            app.report(_("Cannot fetch the file: {error}",
                         error=data.error or ""))
        elif self.inbox is not None:
            self._show_fetched(attachment_id)

    @work(exit_on_error=False)
    async def _show_fetched(self, attachment_id: int) -> None:
        assert self.inbox is not None
        path = await self.inbox.open_attachment(attachment_id)
        if path is not None:
            self._show_file(path)
        else:  # the hub fetched it on a machine whose files this one cannot read
            app = cast("OpchatApp", self.app)
            app.report(_("Cannot fetch the file: {error}",
                         error=_("the hub saved it where this machine cannot read it")))

    def _show_file(self, path: Path) -> None:
        if open_in_viewer(path):
            self.notify(_("Opened {name}.", name=one_line(path.name, 80)), markup=False,
                        timeout=3)
            return
        # No desktop here (over SSH): the path, and the same on the clipboard (OSC 52).
        self.app.copy_to_clipboard(str(path))
        self.notify(_("Saved at {path} (copied)", path=one_line(str(path), 300)),
                    markup=False, timeout=10)


def outgoing_attachment(path: Path) -> Attachment:
    """What the outbox needs to send a file from this machine."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    kind = "photo" if path.suffix.lower() in PICTURES else "document"
    from opchat.model import Attachment  # not needed before the first frame

    return Attachment(kind, path.name, mime, path.stat().st_size, local_path=str(path))


def file_problem(text: str) -> str | None:
    """Why the path an operator typed cannot be sent, or None."""
    path = Path(text).expanduser()
    try:
        if not path.is_file():
            return _("No such file: {path}", path=one_line(str(path), 200))
        if not os.access(path, os.R_OK):
            return _("Cannot read {path}", path=one_line(str(path), 200))
        if path.stat().st_size > MAX_FILE:
            return _("{path} is larger than 50 MB", path=one_line(path.name, 80))
    except OSError as exc:
        return one_line(str(exc), 200)
    return None
