"""Message templates: the texts a platform approved in advance (WhatsApp's), which are
all a business may send once the customer's 24-hour window has closed.

A template's text has numbered variables, ``{{1}}``, ``{{2}}``…, in its header
and its body, each numbered from 1. The operator fills them by editing the
text itself where it stands in the composer: :func:`read` finds, in what was
typed, the values that stand where the variables stood, so the customer gets
exactly the text the operator saw.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # created only where needed: the model loads them on first use
    from opchat.model import Template, TemplateUse

VARIABLE = re.compile(r"\{\{\s*([0-9]+)\s*\}\}")


def from_graph(item: object) -> Template | None:
    """A template as WhatsApp's message_templates endpoint lists it; None if it is not
    one (or one opchat cannot fill: a media header, named parameters)."""
    if not isinstance(item, dict) or not item.get("name") or not item.get("language"):
        return None
    parts: dict[str, str] = {}
    buttons: list[str] = []
    for component in item.get("components") or []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type") or "").upper()
        if kind == "HEADER" and str(component.get("format") or "TEXT").upper() != "TEXT":
            return None  # an image, video or document header needs a file opchat has not
        if kind in ("HEADER", "BODY", "FOOTER"):
            parts[kind] = str(component.get("text") or "")
        elif kind == "BUTTONS":
            buttons += [str(b.get("text") or "") for b in component.get("buttons") or []
                        if isinstance(b, dict)]
    if str(item.get("parameter_format") or "POSITIONAL").upper() != "POSITIONAL":
        return None
    from opchat.model import Template

    return Template(name=str(item["name"]), language=str(item["language"]),
                    status=str(item.get("status") or ""),
                    category=str(item.get("category") or ""), header=parts.get("HEADER", ""),
                    body=parts.get("BODY", ""), footer=parts.get("FOOTER", ""),
                    buttons=tuple(b for b in buttons if b))


def braces(section: str, n: int) -> str:
    """A variable as the platform writes it: ``{{n}}``."""
    return "{{" + str(n) + "}}"


def slots(section: str, n: int) -> str:
    """A variable as the reply box writes it, a ``{name}`` its Tab steps to (see
    opchat.placeholders): ``{header_1}``, ``{value_1}``… (in the app's language)."""
    from opchat.i18n import _

    return "{" + (_("header") if section == "h" else _("value")) + f"_{n}" + "}"


def text_of(template: Template, slot: Callable[[str, int], str] = braces) -> str:
    """What the customer sees: header, body, footer, each variable written by ``slot``
    (given the section, "h" or "b", and the number)."""
    def written(text: str, section: str) -> str:
        return VARIABLE.sub(lambda m: slot(section, int(m.group(1))), text)

    return "\n\n".join(part for part in (written(template.header, "h"),
                                          written(template.body, "b"), template.footer)
                       if part)


def filled(template: Template, use: TemplateUse) -> str:
    """The text with the values of ``use`` in place of the variables."""
    def put(text: str, values: tuple[str, ...]) -> str:
        return VARIABLE.sub(lambda m: values[int(m.group(1)) - 1]
                            if 0 < int(m.group(1)) <= len(values) else m.group(0), text)

    header = put(template.header, use.header)
    body = put(template.body, use.body)
    return "\n\n".join(part for part in (header, body, template.footer) if part)


class Unfilled(ValueError):
    """The typed text is not the template's: ``reason`` says how (for the operator)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read(template: Template, typed: str,
         slot: Callable[[str, int], str] = braces) -> TemplateUse:
    """The values the operator put in place of the variables in ``typed`` (the template's
    text as ``text_of(template, slot)`` wrote it, edited); Unfilled if the fixed words
    were changed or a variable is left empty or as it was written."""
    from opchat.i18n import _

    pattern, groups = "", []
    for part, section in ((template.header, "h"), (template.body, "b"),
                          (template.footer, "f")):
        if not part:
            continue
        if pattern:
            pattern += r"\s*"
        pattern += _pattern(part, section, groups)
    found = re.fullmatch(pattern, typed.strip(), flags=re.S)
    if found is None:
        raise Unfilled(_("the text must keep the template's own words; only the "
                         "{{1}}, {{2}}… may change"))
    values = {name: found.group(name).strip() for name in groups}
    for name, value in values.items():
        written = slot(name[0], int(name[1:]))
        if not value or value == written or VARIABLE.fullmatch(value):
            raise Unfilled(_("fill in {variable}", variable=written))
    from opchat.model import TemplateUse

    return TemplateUse(
        name=template.name, language=template.language,
        header=tuple(values[f"h{n}"] for n in range(1, _count(template.header) + 1)),
        body=tuple(values[f"b{n}"] for n in range(1, _count(template.body) + 1)))


def _count(text: str) -> int:
    return max((int(n) for n in VARIABLE.findall(text)), default=0)


def _literal(text: str) -> str:
    """``text`` as a pattern in which any run of white space matches any other (the
    composer may have wrapped or trimmed it)."""
    return r"\s+".join(re.escape(word) for word in re.split(r"\s+", text)) if text.strip() \
        else (r"\s*" if text else "")


def _pattern(text: str, section: str, groups: list[str]) -> str:
    pattern, at = "", 0
    for match in VARIABLE.finditer(text):
        pattern += _literal(text[at:match.start()])
        name = f"{section}{int(match.group(1))}"
        if name in groups:
            pattern += f"(?P={name})"
        else:
            groups.append(name)
            pattern += f"(?P<{name}>.+?)"
        at = match.end()
    return pattern + _literal(text[at:])
