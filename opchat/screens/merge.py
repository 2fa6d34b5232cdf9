"""The confirmation of a merge: exactly what moves, and what the kept contact becomes."""

from __future__ import annotations

from textual.content import Content

from opchat.i18n import _
from opchat.model import MergePlan
from opchat.sanitize import one_line, safe_content
from opchat.screens.confirm import ConfirmScreen
from opchat.widgets.conversation_list import channel_tag

NAME_CHARS = 80


def merge_lines(plan: MergePlan) -> list[Content]:
    """The body of the confirmation, one `Content` per line, every value sanitised."""
    lines: list[Content] = [Content.assemble(
        (_("Keep") + ": ", "bold"), safe_content(_contact_label(plan.kept.name, plan.kept.id)))]
    lines.append(Content.assemble(
        (_("Merge into it") + ": ", "bold"),
        safe_content(_contact_label(plan.other.name, plan.other.id))))
    lines.append(Content(""))
    lines.append(Content.styled(_("Moves to the kept contact:"), "bold underline"))
    if not plan.identities and not plan.conversations:
        lines.append(Content.styled("  " + _("nothing"), "dim"))
    for item in plan.identities:
        tag, colour = channel_tag(item.channel_kind)
        lines.append(Content.assemble(
            ("  " + _("identity") + " ", "dim"), (f"{tag} ", f"bold {colour}"),
            safe_content(one_line(item.channel_name, 30)), (" · ", "dim"),
            safe_content(one_line(item.identity.display_name, NAME_CHARS) or "—"),
            safe_content(" @" + one_line(item.identity.username, 60)
                         if item.identity.username else "")))
    for conversation in plan.conversations:
        tag, colour = channel_tag(conversation.channel_kind)
        lines.append(Content.assemble(
            ("  " + _("conversation") + f" #{conversation.id} ", "dim"),
            (f"{tag} ", f"bold {colour}"), safe_content(one_line(conversation.channel_name, 30)),
            (" · ", "dim"), safe_content(one_line(conversation.preview, 50) or "—")))
    lines.append(Content(""))
    lines.append(Content.styled(_("The kept contact will be:"), "bold underline"))
    result = plan.result
    for label, value, was in ((_("name"), result.name, plan.kept.name),
                              (_("phone"), result.phone, plan.kept.phone),
                              (_("e-mail"), result.email, plan.kept.email)):
        line = Content.assemble(("  " + label + ": ", "dim"),
                                safe_content(one_line(value or "—", NAME_CHARS)))
        if value != was:
            line = Content.assemble(line, ("  (" + _("from the merged contact") + ")", "italic"))
        lines.append(line)
    if plan.notes_added:
        lines.append(Content.styled("  " + _("notes: the merged contact's notes are added"),
                                    "italic"))
    lines.append(Content(""))
    lines.append(Content.styled(_("The merged contact is kept, marked as merged; this is "
                                  "recorded with your name."), "dim"))
    return lines


def merge_confirmation(plan: MergePlan) -> ConfirmScreen:
    return ConfirmScreen(_("Merge these contacts?"), Content("\n").join(merge_lines(plan)),
                         _("merge"))


def _contact_label(name: str, contact_id: int) -> str:
    return f"{one_line(name, NAME_CHARS) or '—'} (#{contact_id})"
