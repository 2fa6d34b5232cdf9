"""Who the customer is: the contact of the open dialog, across every channel (Alt+I).

One `OptionList`: the details (name, phone, e-mail, each channel identity with
its profile, labels, notes) are disabled options, so the cursor moves only
over what can be acted on — their conversations on every channel, newest
first (Enter opens one) and the suggested merges (m, or Enter, asks first).
`n` edits the notes. Everything shown here came from customers or platforms
and is drawn through `opchat.sanitize` as `Content`, never parsed as markup.

The panel follows the open dialog: it fetches the dialog again each time, so
a merge made by another operator moves it to the right person.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from opchat.i18n import _, ngettext
from opchat.model import Conversation, Status
from opchat.sanitize import clean, one_line, safe_content
from opchat.widgets import ReportsWorkerErrors, clock_label, translate_bindings
from opchat.widgets.conversation_list import channel_tag

if TYPE_CHECKING:
    from opchat.inbox import Inbox
    from opchat.model import ContactCard, Event, MergePlan

RATINGS_SHOWN = 3  # the newest ratings the contact gave
VALUE_CHARS = 300  # of one profile value, phone, e-mail or name
NOTES_LINES = 12  # of the notes shown; the editor (n) has them all
PREVIEW_CHARS = 120

# Profile keys transports use, in the order they are shown; other keys follow, sorted.
PROFILE_KEYS = ("page", "title", "referrer", "language", "user_agent", "username")


def profile_label(key: str) -> str:
    return {
        "page": _("page"),
        "title": _("page title"),
        "referrer": _("referrer"),
        "language": _("language"),
        "user_agent": _("user agent"),
        "username": _("username"),
    }.get(key, key)


def profile_lines(profile: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for each profile entry, known keys first; values as plain text."""
    keys = [k for k in PROFILE_KEYS if k in profile]
    keys += sorted((k for k in profile if k not in PROFILE_KEYS), key=str)
    lines = []
    for key in keys:
        value = profile[key]
        if value is None or value == "":
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append((one_line(profile_label(str(key)), 40), one_line(text, VALUE_CHARS)))
    return lines


def status_name(status: Status) -> str:
    return {
        Status.OPEN: _("open"),
        Status.PENDING: _("pending"),
        Status.SNOOZED: _("snoozed"),
        Status.RESOLVED: _("resolved"),
    }[status]


class ContactPanel(ReportsWorkerErrors, OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "edit_notes", _("Notes"), id="opchat.contact.notes",
                tooltip=_("Edit the notes about this person")),
        Binding("m", "merge", _("Merge"), id="opchat.contact.merge",
                tooltip=_("Merge the selected suggestion into this contact (asks first)")),
        Binding("escape", "close", _("Close"), show=False, id="opchat.contact.close",
                tooltip=_("Close the contact panel")),
    ]

    DEFAULT_CSS = """
    ContactPanel {
        display: none;
        width: 44;
        height: 100%;
        max-height: 100%;
        border: none;
        border-left: vkey $foreground 15%;
        padding: 0 1;
        background: $background;
        &:focus {
            border: none;
            border-left: vkey $accent;
            background-tint: $foreground 0%;
        }
        &.-shown {
            display: block;
        }
        &.-replaces-thread {
            width: 1fr;
        }
        & > .option-list--option-disabled {
            color: $foreground;
        }
    }
    """

    class OpenConversation(Message):
        """The operator chose one of the contact's conversations."""

        def __init__(self, conversation: Conversation) -> None:
            super().__init__()
            self.conversation = conversation

    class Closed(Message):
        """Escape in the panel: the screen hides it."""

    class MergeAsked(Message):
        """The operator wants to merge: the screen asks them to confirm ``plan``, then
        calls :meth:`merge` with it. (A widget opens no screens of its own.)"""

        def __init__(self, plan: MergePlan) -> None:
            super().__init__()
            self.plan = plan

    class NotesAsked(Message):
        """The operator wants to edit the notes: the screen opens the editor, then calls
        :meth:`save_notes` with what was written."""

        def __init__(self, contact_id: int, name: str, notes: str) -> None:
            super().__init__()
            self.contact_id, self.name, self.notes = contact_id, name, notes

    def __init__(self, clock, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        translate_bindings(self)
        self.clock = clock
        self.inbox: Inbox | None = None
        self.conversation_id: int | None = None
        self.card: ContactCard | None = None
        self.loaded = False

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    # Data in ----------------------------------------------------------------------------

    def follow(self, inbox: Inbox, conversation_id: int | None) -> None:
        """Show the contact of this dialog (fetched now if the panel is shown, else later)."""
        self.inbox = inbox
        changed = conversation_id != self.conversation_id
        self.conversation_id = conversation_id
        if changed:
            self.loaded = False
        if self.shown and (changed or self.card is None):
            self.reload()

    def show(self) -> None:
        self.add_class("-shown")
        self.reload()

    def hide(self) -> None:
        self.remove_class("-shown")

    def reload(self) -> None:
        if self.inbox is None:
            return
        self._load(self.conversation_id)

    def apply_events(self, events: Iterable[Event]) -> None:
        """Fetch the card again if a change may show in it."""
        if not self.shown or self.card is None:
            return
        mine = {c.id for c in self.card.conversations}
        if self.conversation_id is not None:
            mine.add(self.conversation_id)
        if any(e.kind.startswith("contact.") or e.conversation_id in mine for e in events):
            self.reload()

    @work(group="contact-load", exclusive=True, exit_on_error=False)
    async def _load(self, conversation_id: int | None) -> None:
        assert self.inbox is not None
        card = None
        if conversation_id is not None:
            conversation = await self.inbox.conversation(conversation_id)
            if conversation is not None:
                card = await self.inbox.contact_card(conversation.contact_id)
        if conversation_id != self.conversation_id:
            return
        self.card = card
        self._fill(card)
        self.loaded = True

    def _fill(self, card: ContactCard | None) -> None:
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        options = self._options_for(card) if card is not None else [
            Option(Content.styled(_("Open a conversation to see who wrote it."), "dim"),
                   disabled=True)]
        self.set_options(options)
        index = None
        if highlighted is not None:
            for i, option in enumerate(options):
                if option.id == highlighted:
                    index = i
        self.highlighted = index

    # What it shows ----------------------------------------------------------------------

    def _options_for(self, card: ContactCard) -> list[Option | None]:
        now = self.clock()
        contact = card.contact
        details: list[Content] = [safe_content(one_line(contact.name, VALUE_CHARS) or "—",
                                               "bold")]
        if contact.phone:
            details.append(self._field(_("phone"), contact.phone))
        if contact.email:
            details.append(self._field(_("e-mail"), contact.email))
        options: list[Option | None] = [Option(line, disabled=True) for line in details]

        options.append(Option(self._heading(_("Channels")), disabled=True))
        for item in card.identities:
            tag, colour = channel_tag(item.channel_kind)
            identity = item.identity
            parts: list[Content | tuple[str, str]] = [
                (f"{tag} ", f"bold {colour}"),
                safe_content(one_line(item.channel_name, 40), "dim"),
                (" · ", "dim"),
                safe_content(one_line(identity.display_name, VALUE_CHARS) or "—"),
            ]
            if identity.username:
                parts.append(safe_content(" @" + one_line(identity.username, 60), "italic"))
            options.append(Option(Content.assemble(*parts), disabled=True))
            for label, value in profile_lines(item.profile):
                options.append(Option(self._field(label, value, indent="  "), disabled=True))

        if card.labels:
            labels = ", ".join(one_line(label, 40) for label in card.labels)
            options.append(Option(self._field(_("labels"), labels), disabled=True))
        for rating in card.ratings[:RATINGS_SHOWN]:
            stars = "★" * rating.rating + "☆" * (5 - rating.rating)
            when = datetime.fromtimestamp(rating.at).strftime("%d.%m")
            said = f" «{one_line(rating.comment, 60)}»" if rating.comment else ""
            options.append(Option(self._field(_("rated"), f"{stars} {when}{said}"),
                                  disabled=True))

        options.append(Option(self._heading(_("Notes"), _("n edits")), disabled=True))
        notes = clean(card.notes).strip("\n")
        if notes.strip():
            lines = notes.splitlines()
            for line in lines[:NOTES_LINES]:
                options.append(Option(safe_content(line or " "), disabled=True))
            if len(lines) > NOTES_LINES:
                more = ngettext("… {n} more line", "… {n} more lines", len(lines) - NOTES_LINES)
                options.append(Option(Content.styled(more, "dim italic"), disabled=True))
        else:
            options.append(Option(Content.styled(_("no notes yet"), "dim italic"),
                                  disabled=True))

        options.append(Option(self._heading(_("Conversations"), _("Enter opens")),
                              disabled=True))
        for conversation in card.conversations:
            options.append(Option(self._conversation_prompt(conversation, now),
                                  id=f"conversation-{conversation.id}"))
        if not card.conversations:
            options.append(Option(Content.styled(_("none"), "dim italic"), disabled=True))

        if card.suggestions:
            options.append(Option(self._heading(_("Same person?"), _("m merges")),
                                  disabled=True))
            for suggestion in card.suggestions:
                reason = _("same phone") if suggestion.reason == "phone" else _("same e-mail")
                count = ngettext("{n} conversation", "{n} conversations",
                                 suggestion.conversations)
                prompt = Content.assemble(
                    safe_content(one_line(suggestion.contact.name, 80) or "—", "bold"),
                    (f" · {reason} · {count}", "dim"))
                options.append(Option(prompt, id=f"suggestion-{suggestion.contact.id}"))
        return options

    def _heading(self, title: str, hint: str = "") -> Content:
        parts: list[tuple[str, str]] = [(title, "bold underline")]
        if hint:
            parts.append((f"  {hint}", "dim"))
        return Content.assemble(*parts)

    def _field(self, label: str, value: str, indent: str = "") -> Content:
        return Content.assemble((f"{indent}{label}: ", "dim"),
                                safe_content(one_line(value, VALUE_CHARS)))

    def _conversation_prompt(self, conversation: Conversation, now: float) -> Content:
        tag, colour = channel_tag(conversation.channel_kind)
        opened = conversation.id == self.conversation_id
        first: list[Content | tuple[str, str]] = [
            ("● " if opened else "  ", "bold"),
            (f"{tag} ", f"bold {colour}"),
            safe_content(one_line(conversation.channel_name, 30)),
            (f" · {status_name(conversation.status)} · "
             f"{clock_label(conversation.last_message_at, now)}", "dim"),
        ]
        if conversation.labels:
            first.append(safe_content(" · " + ", ".join(
                one_line(label, 30) for label in conversation.labels), "italic"))
        preview = one_line(conversation.preview, PREVIEW_CHARS) or "—"
        return Content.assemble(*first, ("\n    ", ""), safe_content(preview, "dim"))

    # Acting -----------------------------------------------------------------------------

    def _chosen(self, prefix: str) -> int | None:
        option = self.highlighted_option
        if option is None or option.id is None or not option.id.startswith(prefix):
            return None
        return int(option.id.removeprefix(prefix))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.card is None or event.option.id is None:
            return
        if event.option.id.startswith("conversation-"):
            wanted = int(event.option.id.removeprefix("conversation-"))
            for conversation in self.card.conversations:
                if conversation.id == wanted:
                    self.post_message(self.OpenConversation(conversation))
        elif event.option.id.startswith("suggestion-"):
            self.action_merge()

    def action_close(self) -> None:
        self.post_message(self.Closed())

    def action_merge(self) -> None:
        other = self._chosen("suggestion-")
        if self.card is None or self.inbox is None:
            return
        if other is None:
            self.notify(_("Choose a suggested contact first (under “Same person?”)."),
                        markup=False, timeout=3)
            return
        self._ask_merge(self.card.contact.id, other)

    @work(group="contact-merge", exclusive=True, exit_on_error=False)
    async def _ask_merge(self, kept_id: int, other_id: int) -> None:
        assert self.inbox is not None
        try:
            plan = await self.inbox.merge_plan(kept_id, other_id)
        except (LookupError, ValueError) as error:
            self.notify(one_line(str(error), 200), markup=False, severity="warning")
            self.reload()
            return
        self.post_message(self.MergeAsked(plan))

    def merge(self, plan: MergePlan) -> None:
        """Merge as ``plan`` says (the operator has confirmed it)."""
        self._merge(plan)

    @work(group="contact-merge", exit_on_error=False)
    async def _merge(self, plan: MergePlan) -> None:
        assert self.inbox is not None
        try:
            await self.inbox.merge_contacts(plan)
        except (LookupError, ValueError) as error:
            self.notify(one_line(str(error), 200), markup=False, severity="warning")
        else:
            self.notify(_("Merged: {name} now has every conversation of both.",
                          name=one_line(plan.result.name, 60)), markup=False, timeout=4)
        self.reload()

    def action_edit_notes(self) -> None:
        card = self.card
        if card is None or self.inbox is None:
            return
        self.post_message(self.NotesAsked(card.contact.id, card.contact.name, card.notes))

    def save_notes(self, contact_id: int, text: str) -> None:
        """Store the notes the operator wrote about ``contact_id``."""
        self._save_notes(contact_id, text)

    @work(group="contact-notes", exit_on_error=False)
    async def _save_notes(self, contact_id: int, text: str) -> None:
        assert self.inbox is not None
        await self.inbox.set_contact_notes(contact_id, text)
        self.notify(_("Notes saved."), markup=False, timeout=2)
        self.reload()
