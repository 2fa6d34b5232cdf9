"""Quick replies on the inbox screen, and the screen where they are written.

`QuickReplyActions` is mixed into the inbox screen: it keeps the replies in
memory for the reply box's `/` drop-down (reloaded when anyone saves one),
works out the open dialog's variables, and puts a reply in the reply box
however it was chosen: from the drop-down, the palette (Ctrl+R), a number
in the palette, or a key bound to it in the config (`[reply_keys]`).

`RepliesScreen` (F3) lists every reply the operator can use, with a
preview, and adds, edits and deletes them (`ReplyForm`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, Footer, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from opchat.i18n import _
from opchat.model import Conversation, Event, EventKind, QuickReply
from opchat.placeholders import clock_values, expand, reply_values
from opchat.replies import RepliesFileError, ReplyDraft, check_reply, reply_text
from opchat.sanitize import one_line, safe_content
from opchat.screens.confirm import ConfirmScreen
from opchat.screens.host import InboxScreenPart
from opchat.screens.workflow import file_problem
from opchat.widgets import ReportsWorkerErrors, translate_bindings
from opchat.widgets.composer import Composer
from opchat.widgets.quick_replies import quick_reply_palette

if TYPE_CHECKING:
    from textual.widgets.text_area import Location

    from opchat.inbox import Inbox
    from opchat.model import SavedReply

REPLY_EVENTS = (EventKind.QUICK_REPLIES_SAVED, EventKind.QUICK_REPLIES_DELETED)


class QuickReplyActions(InboxScreenPart):
    """Mixed into `InboxScreen`; what it uses of the screen is `host.InboxHost`.

    The screen lists these BINDINGS in its own (Textual collects bindings from
    DOM classes only, and a mixin is none)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "quick_replies", _("Replies"), key_display="^r", priority=True,
                id="opchat.quick_replies", tooltip=_("Insert a saved reply (fuzzy search)")),
        Binding("f3", "manage_replies", _("Edit replies"), show=False,
                id="opchat.manage_replies",
                tooltip=_("Add, change, delete and preview quick replies")),
    ]

    replies: list[QuickReply]
    _reply_variables: dict[str, str]

    # Loading --------------------------------------------------------------------------

    def attach_replies(self) -> None:
        """The inbox is open: load the replies and bind the configured keys to them."""
        screen = self._host
        self.replies = []
        self._reply_variables = {}
        completion = screen.reply_completion
        screen.composer.completion = completion
        for shortcut, keys in getattr(screen.settings, "reply_keys", {}).items():
            # Priority: a reply's key works while typing, as Ctrl+R does.
            screen._bindings.bind(keys, f"reply_key({shortcut!r})", f"/{shortcut}",
                                  show=False, priority=True)
        screen.refresh_bindings()
        self.reload_replies()

    def reload_replies(self) -> None:
        screen = self._host
        screen.run_worker(self._load_replies(), group="replies-load", exclusive=True,
                          exit_on_error=False)

    async def _load_replies(self) -> None:
        screen = self._host
        if screen.inbox is None:
            return
        self.replies = await screen.inbox.quick_replies()
        screen.composer.completion.set_replies(self.replies)  # type: ignore[union-attr]

    def replies_for(self, conversation: Conversation) -> None:
        """A dialog was opened: its variables, at once from what the list knows, then all."""
        screen = self._host
        assert screen.inbox is not None
        operator = screen.inbox.operator
        self._set_variables(reply_values(
            contact_name=conversation.contact_name, operator_name=operator.name,
            operator_login=operator.login, conversation_id=conversation.id,
            channel_name=conversation.channel_name, now=screen.inbox.clock()))
        screen.run_worker(self._load_variables(conversation), group="reply-variables",
                          exclusive=True, exit_on_error=False)

    async def _load_variables(self, conversation: Conversation) -> None:
        screen = self._host
        assert screen.inbox is not None
        values = await screen.inbox.reply_values(conversation)
        if screen.opened is not None and screen.opened.id == conversation.id:
            self._set_variables(values)

    def _set_variables(self, values: dict[str, str]) -> None:
        screen = self._host
        self._reply_variables = values
        screen.composer.variables = values
        screen.composer._build_highlight_map()
        screen.composer.refresh()

    def replies_events(self, events: Iterable[Event]) -> None:
        if any(event.kind in REPLY_EVENTS for event in events):
            self.reload_replies()

    def variables_now(self) -> dict[str, str]:
        screen = self._host
        assert screen.inbox is not None
        return {**self._reply_variables, **clock_values(screen.inbox.clock())}

    # Choosing -------------------------------------------------------------------------

    def action_quick_replies(self) -> None:
        screen = self._host
        if screen.inbox is None:
            return
        if screen.opened is None or screen.composer.disabled:
            screen.notify(_("Open a conversation first."), markup=False, timeout=3)
            return
        screen.run_worker(self._open_palette(), group="quick-replies", exclusive=True,
                          exit_on_error=False)

    async def _open_palette(self) -> None:
        screen = self._host
        assert screen.inbox is not None
        replies = await screen.inbox.quick_replies()
        if not replies:
            screen.notify(_("No quick replies yet: F3 adds one, or `opchat replies starter`."),
                          markup=False, timeout=5)
            return
        await screen.app.push_screen(quick_reply_palette(replies, self.insert_reply,
                                                         self.variables_now()))

    def on_composer_reply_chosen(self, event: Composer.ReplyChosen) -> None:
        event.stop()
        self.insert_reply(event.reply, (event.start, event.end))

    def action_reply_key(self, shortcut: str) -> None:
        screen = self._host
        reply = next((r for r in self.replies if r.shortcut == shortcut), None)
        if reply is None:
            screen.notify(_("No quick reply /{shortcut}.", shortcut=shortcut), markup=False,
                          timeout=4)
            return
        if screen.opened is None or screen.composer.disabled:
            screen.notify(_("Open a conversation first."), markup=False, timeout=3)
            return
        self.insert_reply(reply)

    def insert_reply(self, reply: QuickReply,
                     replace: tuple[Location, Location] | None = None) -> None:
        """Put a reply, its variables filled in, at the cursor (or over `/…`); it stays editable.

        Several replies can go into one message this way, one after another.
        """
        screen = self._host
        composer = screen.composer
        if composer.disabled:
            return
        composer.focus()
        kind = screen.opened.channel_kind if screen.opened is not None else ""
        composer.insert_expansion(expand(reply_text(reply, kind), self.variables_now()),
                                  replace)
        attachment = getattr(reply, "attachment", None)
        if attachment and screen.opened is not None:
            problem = file_problem(attachment)
            if problem:
                screen.notify(_("This reply comes with a file, which cannot be sent: {problem}",
                                problem=problem), markup=False, timeout=6)
            else:
                opened = screen.opened.id
                path = Path(attachment).expanduser().resolve()
                files = list(screen.outgoing_files.get(opened, []))
                if path not in files:
                    screen.set_outgoing_files(opened, [*files, path])
        if screen.inbox is not None:
            screen.run_worker(self._used(reply.id), exit_on_error=False)

    async def _used(self, reply_id: int) -> None:
        screen = self._host
        assert screen.inbox is not None
        await screen.inbox.quick_reply_used(reply_id)
        await self._load_replies()  # most used first, in the drop-down too

    def action_manage_replies(self) -> None:
        screen = self._host
        if screen.inbox is None:
            return
        screen.app.push_screen(RepliesScreen(screen.inbox, self.variables_now()))


# The management screen ---------------------------------------------------------------------


class RepliesScreen(ReportsWorkerErrors, Screen[None]):
    """Every reply the operator can use: add, edit, delete, with a preview."""

    DEFAULT_CSS = """
    RepliesScreen > Horizontal { height: 1fr; }
    RepliesScreen #replies-list { width: 1fr; min-width: 30; }
    RepliesScreen #replies-preview {
        width: 1fr; padding: 0 1; border-left: vkey $foreground 20%;
    }
    RepliesScreen #replies-title { height: 1; background: $panel; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", _("Add"), id="opchat.replies.add",
                tooltip=_("Write a new quick reply")),
        Binding("e,enter", "edit", _("Edit"), id="opchat.replies.edit",
                tooltip=_("Change the reply under the cursor")),
        Binding("d,delete", "delete", _("Delete"), id="opchat.replies.delete",
                tooltip=_("Delete the reply under the cursor (asks first)")),
        Binding("escape,f3", "close", _("Back"), id="opchat.replies.close",
                tooltip=_("Back to the inbox")),
    ]

    def __init__(self, inbox: Inbox, variables: dict[str, str]) -> None:
        super().__init__(id="replies")
        translate_bindings(self)
        self.inbox = inbox
        self.variables = variables
        self.replies: list[SavedReply] = []

    def compose(self) -> ComposeResult:
        yield Static(_("Quick replies"), id="replies-title", markup=False)
        with Horizontal():
            yield OptionList(id="replies-list")
            yield Static(Content(""), id="replies-preview")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.reload()

    def reload(self, select: int | None = None) -> None:
        self._reload(select)

    @work(group="replies", exclusive=True, exit_on_error=False)
    async def _reload(self, select: int | None) -> None:
        self.replies = await self.inbox.quick_replies()  # type: ignore[assignment]
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options([Option(self._row(reply), id=str(reply.id))
                             for reply in self.replies])
        if not self.replies:
            self._preview(None)
            return
        index = next((n for n, r in enumerate(self.replies) if r.id == select), None)
        options.highlighted = index if index is not None else min(highlighted or 0,
                                                                  len(self.replies) - 1)

    def _row(self, reply: SavedReply) -> Content:
        parts: list[Content | tuple[str, str]] = [
            safe_content(f"/{one_line(reply.shortcut, 24)}", "bold"), ("  ", ""),
            safe_content(one_line(reply.title, 40)),
        ]
        if reply.folder:
            parts += [("  ", ""), safe_content(one_line(reply.folder, 20), "italic")]
        if reply.owner:
            parts.append(("  " + _("private"), "dim"))
        parts.append((f"  ×{reply.uses}", "dim"))
        return Content.assemble(*parts)

    @property
    def current(self) -> SavedReply | None:
        index = self.query_one(OptionList).highlighted
        return self.replies[index] if index is not None and index < len(self.replies) else None

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._preview(self.current)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_edit()

    def _preview(self, reply: SavedReply | None) -> None:
        preview = self.query_one("#replies-preview", Static)
        if reply is None:
            preview.update(Content(_("No quick replies yet: press a to add one.")))
            return
        parts: list[Content | tuple[str, str]] = [
            safe_content(one_line(reply.title, 200), "bold"), ("\n", ""),
        ]
        who = _("private (only you)") if reply.owner else _("shared with every operator")
        parts.append((f"/{reply.shortcut} · {who}\n", "dim"))
        if reply.attachment:
            parts += [("📎 ", ""), safe_content(one_line(reply.attachment, 200)), ("\n", "")]
        parts.append(("\n", ""))
        expansion = expand(reply.body, self.variables)
        text = safe_content(expansion.text)
        if text.plain == expansion.text:  # offsets still line up: show what is missing
            for slot in expansion.unfilled:
                text = text.stylize("bold reverse", slot.start, slot.end)
        parts.append(text)
        preview.update(Content.assemble(*parts))

    def action_add(self) -> None:
        self.app.push_screen(ReplyForm(None, self.inbox.operator.login), self._save)

    def action_edit(self) -> None:
        reply = self.current
        if reply is not None:
            self.app.push_screen(ReplyForm(reply, self.inbox.operator.login),
                                 lambda draft: self._save(draft, reply.id))

    def _save(self, draft: ReplyDraft | None, reply_id: int | None = None) -> None:
        if draft is not None:
            self._store(draft, reply_id)

    @work(exit_on_error=False)
    async def _store(self, draft: ReplyDraft, reply_id: int | None) -> None:
        from opchat.model import ShortcutTaken

        try:
            saved = await self.inbox.save_reply(draft, reply_id)
        except ShortcutTaken as exc:
            self.notify(_("The shortcut /{shortcut} is taken by another reply.",
                          shortcut=exc.shortcut), severity="error", markup=False, timeout=6)
            # Give the text back to finish, rather than lose it.
            self.app.push_screen(ReplyForm(draft, self.inbox.operator.login),
                                 lambda again: self._save(again, reply_id))
            return
        self.notify(_("Saved /{shortcut}.", shortcut=saved.shortcut), markup=False, timeout=3)
        self.reload(select=saved.id)

    def action_delete(self) -> None:
        reply = self.current
        if reply is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(reply)

        self.app.push_screen(ConfirmScreen(
            _("Delete the quick reply /{shortcut}?", shortcut=one_line(reply.shortcut, 40)),
            safe_content(one_line(reply.title, 200)), _("delete")), answered)

    @work(exit_on_error=False)
    async def _delete(self, reply: SavedReply) -> None:
        if await self.inbox.delete_reply(reply.id):
            self.notify(_("Deleted /{shortcut}.", shortcut=reply.shortcut), markup=False,
                        timeout=3)
        self.reload()

    def action_close(self) -> None:
        self.dismiss(None)


class ReplyForm(ModalScreen[ReplyDraft | None]):
    """Add or change one reply. Ctrl+S saves, Escape leaves it as it was."""

    DEFAULT_CSS = """
    ReplyForm { align: center middle; }
    ReplyForm > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ReplyForm Input, ReplyForm TextArea { background: $boost; }
    ReplyForm Input:focus, ReplyForm TextArea:focus { background: $accent 25%; }
    ReplyForm TextArea { height: 5; }
    ReplyForm Checkbox { height: 1; border: none; padding: 0; }
    /* Labels wrap inside the form rather than run past its edge (Russian is longer). */
    ReplyForm Label { color: $text-muted; width: 100%; }
    ReplyForm #reply-form-error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", _("Save"), priority=True, id="opchat.replies.save",
                tooltip=_("Save the reply")),
        Binding("escape", "cancel", _("Cancel"), id="opchat.replies.cancel",
                tooltip=_("Close without saving")),
    ]

    def __init__(self, reply: ReplyDraft | SavedReply | None, operator: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.reply = reply
        self.operator = operator

    def compose(self) -> ComposeResult:
        reply = self.reply
        with Vertical():
            yield Label(_("Shortcut (typed after /)"))
            yield Input(getattr(reply, "shortcut", ""), id="reply-shortcut", compact=True)
            yield Label(_("Title"))
            yield Input(getattr(reply, "title", ""), id="reply-title", compact=True)
            yield Label(_("Folder"))
            yield Input(getattr(reply, "folder", ""), id="reply-folder", compact=True)
            yield Label(_("Text; variables such as {contact.first_name}, {operator.name}, "
                          "{date} are filled in when it is inserted"))
            yield TextArea(getattr(reply, "body", ""), id="reply-body", soft_wrap=True,
                           show_line_numbers=False, tab_behavior="focus", compact=True)
            yield Label(_("File sent with it (a path; optional)"))
            yield Input(getattr(reply, "attachment", None) or "", id="reply-attachment",
                        compact=True)
            yield Checkbox(_("Private: only I see it"), bool(getattr(reply, "owner", None)),
                           id="reply-private")
            yield Static("", id="reply-form-error", markup=False)
            yield Static(_("Ctrl+S — save   Esc — cancel"), markup=False)

    def action_save(self) -> None:
        value = lambda selector: self.query_one(selector, Input).value  # noqa: E731
        try:
            draft = check_reply(
                value("#reply-shortcut").strip().removeprefix("/"), value("#reply-title"),
                self.query_one("#reply-body", TextArea).text, _("this reply"),
                value("#reply-folder"),
                self.operator if self.query_one("#reply-private", Checkbox).value else None,
                value("#reply-attachment").strip() or None)
        except RepliesFileError as exc:
            problems = {
                "shortcut": _("The shortcut: 1–40 letters, digits, '.', '_' or '-'."),
                "title": _("The title cannot be empty."),
                "body": _("The text cannot be empty."),
                "folder": _("The folder: one line, at most 40 characters."),
                "attachment": _("The file: one line, a path."),
            }
            self.query_one("#reply-form-error", Static).update(
                problems.get(exc.field or "", str(exc)))
            return
        self.dismiss(draft)

    def action_cancel(self) -> None:
        self.dismiss(None)
