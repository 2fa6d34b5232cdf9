"""The screen where quick replies are written (F3).

`RepliesScreen` lists every reply the operator can use, with a preview, and
adds, edits and deletes them (`ReplyForm`). Choosing a reply to insert is the
thread pane's (`screens/thread_pane.py`): the palette (Ctrl+R), the reply
box's `/` drop-down, keys bound to a reply in the config (`[reply_keys]`).
"""

from __future__ import annotations

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
from opchat.placeholders import expand
from opchat.replies import RepliesFileError, ReplyDraft, check_reply
from opchat.sanitize import one_line, safe_content
from opchat.screens.confirm import ConfirmScreen
from opchat.widgets import ReportsWorkerErrors, translate_bindings

if TYPE_CHECKING:
    from opchat.inbox import Inbox
    from opchat.model import SavedReply


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
