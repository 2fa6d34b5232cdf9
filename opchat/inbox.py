"""What every opchat process has: the async API the UI uses.

The inbox reads and writes through the store, and follows the ``events``
table to learn about changes, whoever made them: this process, the hub in
another operator's process, or ``opchat serve``. Following the table costs one
``PRAGMA data_version`` a tick; events are read only when it moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from opchat.feed import Feed
from opchat.model import (
    API_OPERATOR_PREFIX,
    Attachment,
    Channel,
    ContactCard,
    Conversation,
    Direction,
    Event,
    HiddenItem,
    Label,
    MergePlan,
    Message,
    Operator,
    Presence,
    PresenceKind,
    QuickReply,
    SavedReply,
    SearchHit,
    StatsReport,
    Status,
    Template,
    TemplateUse,
)
from opchat.store import ConversationFilter, Store

log = logging.getLogger("opchat.inbox")

FILES_DIR = "attachments"  # under the data dir, one folder per channel (the hub's too)
FOLLOW_INTERVAL = 0.05  # seconds between checks for other processes' commits
FEED_PAGE = 1000  # rows read at once by the events' and presence's feeds
ONLINE_TTL = 45.0  # an app says it is open every ONLINE_TTL / 3 seconds
VIEWING_TTL = 45.0  # renewed with the online heartbeat while the dialog stays open
TYPING_TTL = 6.0  # renewed while keys keep coming (at most every TYPING_TTL / 3 s)
AT_RISK_LIMIT = 500  # the SLA view's candidates looked at, those under way longest
AT_RISK_HORIZON = 300.0  # candidates include those at risk within this many seconds

if TYPE_CHECKING:
    from opchat.hours import WorkClock
    from opchat.model import SearchResults
    from opchat.replies import ReplyDraft
    from opchat.sla import Sla
    from opchat.store.stats import Goals, WorkTime


class Inbox:
    def __init__(self, store: Store, operator: Operator) -> None:
        self.store = store
        self.operator = operator
        # This machine's data dir: where a file another machine saved is written from a
        # PostgreSQL store (`local_file`); set by `open`.
        self.data_dir: Path | None = None
        # One reader of each growing table for the whole process (the UI, the hub and
        # the automatic answers share it), and one watcher of other processes' commits.
        self._events: Feed[Event] = Feed(
            store.events.last_event_id,
            lambda after: store.events.events_after(after, FEED_PAGE),
            lambda event: event.id, "events", self._watch, page=FEED_PAGE)
        self._presence: Feed[Presence] = Feed(
            store.presence.last_seq, lambda after: store.presence.after(after, FEED_PAGE),
            lambda row: row.seq, "presence", self._watch, page=FEED_PAGE)
        self._watcher: asyncio.Task[None] | None = None  # notices other processes' commits
        # Service-level targets, for the SLA view (`use_targets`), and when the view will
        # change as time passes: the next moment a dialog reaches its warning.
        self._sla: Sla | None = None
        self._sla_work: WorkClock | None = None
        self.at_risk_changes_at: float | None = None
        self.at_risk_capped = False  # the last read found AT_RISK_LIMIT candidates or more
        # This process's commits: presence is read for only when it changed.
        store.db.on_commit(self._events.wake)
        store.presence.on_change(self._presence.wake)

    @classmethod
    async def open(
        cls, data_dir: Path, operator_login: str, clock: Callable[[], float] = time.time,
        database_url: str | None = None,
    ) -> Inbox:
        """``database_url``: a PostgreSQL store (None: the environment's, else the SQLite
        file in ``data_dir``)."""
        store = await Store.open(data_dir, clock, database_url)
        operator = await store.workflow.ensure_operator(operator_login)
        inbox = cls(store, operator)
        inbox.data_dir = Path(data_dir)
        return inbox

    async def close(self) -> None:
        for feed in (self._events, self._presence):
            await feed.close()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.store.close()

    @property
    def clock(self) -> Callable[[], float]:
        return self.store.clock

    # Reading ----------------------------------------------------------------------------

    def use_targets(self, sla: Sla | None, work: WorkClock | None = None) -> None:
        """The service-level targets the SLA view (``ConversationFilter.at_risk``) judges
        by, and each channel's working hours for targets counted in them."""
        self._sla, self._sla_work = sla, work
        self.at_risk_changes_at = None

    async def _at_risk(self, flt: ConversationFilter) -> list[Conversation]:
        """The SLA view: the store's candidates (open or pending, owing a response or a
        resolution long enough to be near a target within AT_RISK_HORIZON; at most
        AT_RISK_LIMIT, under way longest first), judged here by the targets, the
        nearest deadline first. Notes when the next candidate reaches its warning."""
        sla = self._sla
        if sla is None:
            return []
        now = self.clock()
        horizon = now + AT_RISK_HORIZON
        waiting_before, round_before = sla.candidates(horizon)
        rows = await self.store.conversations.page(
            replace(flt, waiting_before=waiting_before, round_before=round_before), 0,
            AT_RISK_LIMIT)
        found, later = sla.at_risk(rows, now, self._sla_work)
        self.at_risk_changes_at = horizon if later is None else min(later, horizon)
        self.at_risk_capped = len(rows) >= AT_RISK_LIMIT
        return found

    async def conversations(
        self, flt: ConversationFilter = ConversationFilter(), offset: int = 0, limit: int = 50
    ) -> list[Conversation]:
        if flt.at_risk:
            return (await self._at_risk(flt))[offset:offset + limit]
        return await self.store.conversations.page(flt, offset, limit)

    async def count(self, flt: ConversationFilter = ConversationFilter()) -> int:
        if flt.at_risk:
            return len(await self._at_risk(flt))
        return await self.store.conversations.count(flt)

    async def counts(
        self, filters: Sequence[ConversationFilter], position_of: int | None = None,
        listed: ConversationFilter = ConversationFilter(),
    ) -> tuple[list[int], int | None]:
        """How many dialogs each filter lets through and, with ``position_of``, where that
        dialog stands in the ``listed`` list (None: no such dialog): one read (and the
        SLA view's own, see `_at_risk`)."""
        risky = {flt: await self._at_risk(flt) for flt in
                 dict.fromkeys([f for f in filters if f.at_risk]
                               + ([listed] if listed.at_risk and position_of is not None
                                  else []))}
        plain = [f for f in filters if not f.at_risk]
        found, position = await self.store.conversations.count_many(
            plain, None if listed.at_risk else position_of, listed)
        counted = iter(found)
        out = [len(risky[f]) if f.at_risk else next(counted) for f in filters]
        if listed.at_risk and position_of is not None:
            ids = [c.id for c in risky[listed]]
            position = ids.index(position_of) if position_of in ids else None
        return out, position

    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await self.store.conversations.get(conversation_id)

    async def position(
        self, conversation_id: int, flt: ConversationFilter = ConversationFilter()
    ) -> int | None:
        if flt.at_risk:
            ids = [c.id for c in await self._at_risk(flt)]
            return ids.index(conversation_id) if conversation_id in ids else None
        return await self.store.conversations.position(conversation_id, flt)

    async def messages(
        self, conversation_id: int, before_id: int | None = None, limit: int = 100
    ) -> list[Message]:
        return await self.store.messages.page(conversation_id, before_id, limit)

    async def messages_after(self, conversation_id: int, after_id: int) -> list[Message]:
        return await self.store.messages.after(conversation_id, after_id)

    async def message(self, message_id: int) -> Message | None:
        return await self.store.messages.get(message_id)

    async def channels(self) -> list[Channel]:
        return await self.store.channels.all()

    async def waiting_count(self) -> int:
        return await self.store.conversations.waiting_count()

    async def failed_count(self) -> int:
        """Dialogs waiting because their last reply failed (counted in waiting too)."""
        return await self.store.workflow.failed_count()

    async def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages only, newest first (the store's search.py has the rules)."""
        return await self.store.search.find(query, limit)

    async def search_all(self, query: str, limit: int = 50) -> SearchResults:
        """Contacts, labelled conversations and messages, as the search screen shows them."""
        return await self.store.search.find_all(query, limit)

    async def messages_newer(
        self, conversation_id: int, after_id: int, limit: int = 100
    ) -> list[Message]:
        """The page after ``after_id``, oldest first: a thread opened at a found message."""
        return await self.store.search.messages_newer(conversation_id, after_id, limit)

    async def quick_replies(self) -> list[QuickReply]:
        """The shared replies and this operator's own, most used first."""
        return await self.store.replies.all(visible_to=self.operator.id)

    async def outbox_error(self, message_id: int) -> str | None:
        return await self.store.outbox.outbox_error(message_id)

    # Acting -----------------------------------------------------------------------------

    async def send(
        self, conversation_id: int, body: str, reply_to_id: int | None = None,
        attachments: Sequence[Attachment] = (), template: TemplateUse | None = None,
    ) -> Message:
        """Queue a reply: the message and its outbox row are written in one transaction.
        ``template``: send it as that approved template (``body``: its text as filled)."""
        return await self.store.messages.add(
            conversation_id, body, self.operator, Direction.OUT, reply_to_id, attachments,
            template)

    async def templates(self, conversation: Conversation) -> list[Template]:
        """The approved templates the dialog's channel may send (WhatsApp's), as its hub
        last found them; [] for a channel without templates."""
        return await self.store.templates.of_channel(conversation.channel_id)

    async def note(self, conversation_id: int, body: str) -> Message:
        """A private note in the thread; never sent to the customer."""
        return await self.store.messages.add(conversation_id, body, self.operator, Direction.NOTE)

    async def retry(self, message_id: int) -> bool:
        return await self.store.messages.retry(message_id, self.operator)

    async def dismiss_failure(self, conversation_id: int, message_id: int | None = None) -> bool:
        """Stop waiting on the dialog's failed reply (``message_id``: only if it is that one)."""
        return await self.store.workflow.dismiss_failure(conversation_id, self.operator, message_id)

    async def mark_read(self, conversation_id: int) -> None:
        await self.store.conversations.mark_read(conversation_id, self.operator)

    async def set_status(self, conversation_id: int, status: Status) -> None:
        await self.store.conversations.set_status(conversation_id, status, self.operator)

    async def stats_report(self, start: float, end: float, work: WorkTime | None = None,
                           goals: Goals | None = None) -> StatsReport:
        """Response-time figures of [start, end), as the stats screen shows them; with
        ``work`` (opchat.hours.WorkClock), the durations in working hours too; with
        ``goals`` (opchat.sla.Sla), the breaches of each target."""
        return await self.store.stats.report(start, end, work, goals)

    async def request_transcript(self, conversation_id: int, to: str) -> None:
        """Ask the hub to e-mail the dialog's transcript to ``to`` (see [transcripts])."""
        await self.store.transcripts.request(conversation_id, to, self.operator)

    async def quick_reply_used(self, reply_id: int) -> None:
        await self.store.replies.used(reply_id, self.operator.id)

    # Quick replies: the operator's own, and variables ------------------------------------

    async def reply_values(self, conversation: Conversation) -> dict[str, str]:
        """What `{contact.first_name}`, `{operator.name}`... mean in this dialog, now."""
        from opchat.placeholders import reply_values

        fields = await self.store.replies.reply_context(conversation.id)
        return reply_values(
            contact_name=conversation.contact_name, contact_fields=fields,
            operator_name=self.operator.name, operator_login=self.operator.login,
            conversation_id=conversation.id, channel_name=conversation.channel_name,
            now=self.clock())

    async def save_reply(self, reply: ReplyDraft, reply_id: int | None = None) -> SavedReply:
        """Add (or change) a reply; `ShortcutTaken` if another one has its shortcut."""
        return await self.store.replies.put(reply, reply_id, self.operator.login)

    async def delete_reply(self, reply_id: int) -> bool:
        return await self.store.replies.delete(reply_id, self.operator.login)

    # The operator's workflow -----------------------------------------------------------

    async def assign(self, conversation_id: int, login: str | None) -> bool:
        """Give the dialog to ``login`` (this operator's own login: "assign to me")."""
        return await self.store.workflow.assign(conversation_id, login, self.operator)

    async def snooze(self, conversation_id: int, until: float) -> None:
        await self.store.workflow.snooze(conversation_id, until, self.operator)

    async def label(self, conversation_id: int, name: str) -> bool:
        return await self.store.workflow.label(conversation_id, name, self.operator)

    async def unlabel(self, conversation_id: int, name: str) -> bool:
        return await self.store.workflow.unlabel(conversation_id, name, self.operator)

    async def labels(self) -> list[Label]:
        return await self.store.workflow.labels()

    async def operators(self) -> list[Operator]:
        """The people a dialog may be given to (not the HTTP API's tokens)."""
        return [op for op in await self.store.workflow.operators()
                if not op.login.startswith(API_OPERATOR_PREFIX)]

    async def open_load(self) -> dict[str, int]:
        """How many open dialogs each operator holds (login -> count)."""
        return await self.store.workflow.open_load()

    async def attachment(self, attachment_id: int) -> Attachment | None:
        found = await self.store.attachments.get(attachment_id)
        return None if found is None else found.attachment

    async def open_attachment(self, attachment_id: int) -> Path | None:
        """The file of an attachment as a path on this machine (see `local_file`), or
        None: then the hub must fetch it (`request_attachment`)."""
        found = await self.store.attachments.get(attachment_id)
        if found is None:
            return None
        return await self.local_file(found.attachment, found.channel)

    async def local_file(self, attachment: Attachment, channel: str,
                         data_dir: Path | None = None) -> Path | None:
        """A readable path on this machine with the attachment's bytes: its own path if
        this machine can read it; else, when a PostgreSQL store keeps the file for every
        machine, the store's copy written into this machine's data dir (``data_dir``, or
        the inbox's) under ``attachments/CHANNEL/``, its hash checked; else None."""
        from opchat.viewer import readable_file

        if attachment.local_path and readable_file(attachment.local_path):
            return Path(attachment.local_path)
        folder = data_dir or self.data_dir
        if not attachment.sha256 or folder is None or not self.store.attachments.shared:
            return None
        from opchat.config import private_modes
        from opchat.transports.files import safe_name

        # Named as the hub names what it fetches, from the hash: one name per content.
        target = folder / FILES_DIR / channel / safe_name(replace(attachment,
                                                                  ref=attachment.sha256))
        try:
            if await self.store.attachments.restore(attachment.sha256, target,
                                                    private_modes(folder)):
                return target
        except Exception as exc:
            log.warning("file %s (%s) not written from the store: %s",
                        attachment.filename or attachment.kind, attachment.sha256[:12], exc)
        return None

    async def request_attachment(self, attachment_id: int) -> None:
        """Ask the hub to fetch a file; it answers with attachment.ready or .failed."""
        await self.store.attachments.request(attachment_id, self.operator)

    async def save_draft(self, conversation_id: int, body: str) -> None:
        await self.store.workflow.save_draft(self.operator, conversation_id, body)

    async def draft(self, conversation_id: int) -> str:
        return await self.store.workflow.draft(self.operator, conversation_id)

    # One customer across channels; hiding with a trace ------------------------------------

    async def contact_card(self, contact_id: int) -> ContactCard | None:
        return await self.store.contacts.card(contact_id)

    async def merge_plan(self, kept_id: int, other_id: int) -> MergePlan:
        return await self.store.contacts.merge_plan(kept_id, other_id)

    async def merge_contacts(self, plan: MergePlan) -> MergePlan:
        """Merge as ``plan`` (confirmed by the operator) says; refused if that changed."""
        return await self.store.contacts.merge(plan.kept.id, plan.other.id, self.operator,
                                               expected=plan)

    async def set_contact_notes(self, contact_id: int, notes: str) -> bool:
        return await self.store.contacts.set_notes(contact_id, notes, self.operator)

    async def hide_message(self, message_id: int) -> bool:
        return await self.store.history.hide_message(message_id, self.operator)

    async def unhide_message(self, message_id: int) -> bool:
        return await self.store.history.unhide_message(message_id, self.operator)

    async def hide_conversation(self, conversation_id: int) -> bool:
        return await self.store.history.hide_conversation(conversation_id, self.operator)

    async def unhide_conversation(self, conversation_id: int) -> bool:
        return await self.store.history.unhide_conversation(conversation_id, self.operator)

    async def hidden(self) -> list[HiddenItem]:
        return await self.store.history.hidden_items()

    # Presence: who is here, what they look at, who types ----------------------------------

    async def presence(self) -> list[Presence]:
        """Every presence state that holds now."""
        return await self.store.presence.current()

    async def heartbeat(self, viewing: int | None) -> None:
        """This operator has opchat open (and ``viewing`` that dialog, or none)."""
        login = self.operator.login
        await self.store.presence.set(PresenceKind.ONLINE, login, ttl=ONLINE_TTL)
        await self.set_viewing(viewing)

    async def set_viewing(self, conversation_id: int | None) -> None:
        login = self.operator.login
        if conversation_id is None:
            await self.store.presence.clear(PresenceKind.VIEWING, login)
        else:
            await self.store.presence.set(PresenceKind.VIEWING, login, conversation_id,
                                          VIEWING_TTL, exclusive=True)

    async def set_typing(self, conversation_id: int | None) -> None:
        """The operator is typing in that dialog (None: stopped typing anywhere)."""
        login = self.operator.login
        if conversation_id is None:
            await self.store.presence.clear(PresenceKind.TYPING, login)
        else:
            await self.store.presence.set(PresenceKind.TYPING, login, conversation_id,
                                          TYPING_TTL, exclusive=True)

    async def leave(self) -> None:
        """This operator closed opchat: no longer online, viewing or typing."""
        login = self.operator.login
        for kind in (PresenceKind.TYPING, PresenceKind.VIEWING, PresenceKind.ONLINE):
            await self.store.presence.clear(kind, login)

    # Following changes ------------------------------------------------------------------

    def _committed(self) -> None:  # by another process: anything may have changed
        self._events.wake()
        self._presence.wake()

    def _following(self) -> bool:
        return bool(self._events.followers or self._presence.followers)

    async def _watch_other_processes(self) -> None:
        """One look at ``PRAGMA data_version`` every FOLLOW_INTERVAL for the whole
        process, however many followers there are; a change wakes them all. It ends
        when nobody follows any more (the next follower starts it again)."""
        version: int | None = None
        while self._following():
            try:
                current = await self.store.db.data_version()
            except Exception as exc:  # closed or away: the followers' own reads will say
                log.debug("could not look for other processes' changes: %s", exc)
            else:
                # The first look wakes everyone too: a follower that joined just before
                # may have read its position before this baseline.
                if current != version:
                    self._committed()
                version = current
            await asyncio.sleep(FOLLOW_INTERVAL)

    def _watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch_other_processes(),
                                                name="opchat-watch")

    async def changes(self, after_id: int | None = None,
                      kinds: Collection[str] | None = None) -> AsyncIterator[list[Event]]:
        """Yield batches of new events, from any process, for as long as you iterate:
        after ``after_id`` (None: from now on), only ``kinds`` when given.

        A commit in this process wakes the follower at once; another process's
        commit is noticed within FOLLOW_INTERVAL. Every follower in the process
        shares one reader of the table.
        """
        follow = self._events.follow(after_id)
        try:
            async for events in follow:
                if kinds is not None:
                    events = [event for event in events if event.kind in kinds]
                if events:
                    yield events
        finally:
            await follow.aclose()

    async def presence_changes(self) -> AsyncIterator[list[Presence]]:
        """Yield presence rows as they change (someone opened, left, typed...), from now on."""
        follow = self._presence.follow()
        try:
            async for rows in follow:
                yield rows
        finally:
            await follow.aclose()
