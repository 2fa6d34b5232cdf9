"""An RFC 5322 message as opchat keeps it: what the customer wrote, who they are, which
dialog it belongs to, its files, and whether a machine wrote it.

Nothing here raises on a message, however broken: a header that cannot be read is left
out, a charset that is unknown or lies is read with replacement characters, a body that
cannot be taken apart is kept as text. Nothing is fetched: HTML becomes text with
html2text, and remote images are never asked for (they are dropped, not followed).

Threading works through the ordinary ingest: a dialog's ``chat_id`` is "ADDRESS SUBJECT"
(the customer's address and the subject without Re:/Fwd:/AW:/Ответ:…). Our own
Message-IDs carry the ``chat_id`` they were sent to (:func:`make_message_id`), so a reply
whose In-Reply-To or References names one of them joins that dialog whatever its
subject or sender; other mail joins by address and subject.
"""

from __future__ import annotations

import base64
import codecs
import email
import email.policy
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

SUBJECT_KEY_CHARS = 80  # of the normalised subject kept in a chat_id
REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|fw|aw|wg|sv|vs|antw|ответ|отв|rif|tr|réf|ref|odp|pd)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+", re.IGNORECASE)
OUR_ID = re.compile(r"^opchat\.[0-9a-z]+\.([a-z2-7]+)@", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


# Subjects, addresses and threads ----------------------------------------------------------


def normalise_subject(subject: str) -> str:
    """The subject as a thread knows it: Re:/Fwd:/AW:/Ответ: and the like stripped (also
    "Re[2]:", repeated), white space collapsed."""
    previous = None
    text = " ".join((subject or "").split())
    while previous != text:
        previous = text
        text = REPLY_PREFIX.sub("", text).strip()
    return text


def chat_key(address: str, subject: str) -> str:
    """The dialog of mail from ``address`` about ``subject``: "ADDRESS SUBJECT-KEY"."""
    key = normalise_subject(subject).casefold()[:SUBJECT_KEY_CHARS]
    return f"{_clean_address(address)} {key}".rstrip() if key else _clean_address(address)


def address_of(chat_id: str) -> str:
    """Whom a dialog's replies go to."""
    return chat_id.split(" ", 1)[0]


def subject_of(chat_id: str) -> str:
    """The normalised subject a dialog was keyed on (lower case), "" for none."""
    return chat_id.split(" ", 1)[1] if " " in chat_id else ""


def make_message_id(chat_id: str, domain: str) -> str:
    """A new Message-ID (without <>) that tells which dialog a reply to it belongs to."""
    packed = base64.b32encode(chat_id.encode()).decode().rstrip("=").lower()
    return f"opchat.{secrets.token_hex(6)}.{packed}@{domain or 'opchat.invalid'}"


def chat_of_our_id(message_id: str) -> str | None:
    """The chat_id one of our Message-IDs was made for, or None if it is not ours."""
    found = OUR_ID.match(message_id or "")
    if found is None:
        return None
    packed = found.group(1).upper()
    try:
        chat = base64.b32decode(packed + "=" * (-len(packed) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return chat if "@" in address_of(chat) else None


def is_our_id(message_id: str) -> bool:
    return chat_of_our_id(message_id) is not None


def message_ids(value: str) -> list[str]:
    """The ids in a Message-ID, In-Reply-To or References header, without <>."""
    found = MESSAGE_ID.findall(value or "")
    if not found and value and value.strip() and " " not in value.strip():
        found = [value.strip().strip("<>")]  # a bare id, as some software writes it
    return found


def _clean_address(address: str) -> str:
    return "".join((address or "").split()).lower()


# Reading a message --------------------------------------------------------------------------


@dataclass
class FilePart:
    """A file the message carries (an attachment, an inline image)."""

    filename: str
    mime: str
    data: bytes
    inline: bool = False


@dataclass
class Parsed:
    """What opchat keeps of one message."""

    message_id: str  # without <>; a digest of the message when it has none
    from_address: str
    from_name: str
    reply_address: str  # where replies go (Reply-To, else From)
    reply_name: str
    subject: str
    to_addresses: list[str]
    date: float | None
    in_reply_to: list[str]
    references: list[str]
    text: str  # what the customer wrote, quoted history and signature folded away
    full_text: str  # the whole text, when something was folded ("" otherwise)
    files: list[FilePart] = field(default_factory=list)
    automated: str = ""  # "auto-reply", "bounce", "bulk" or "" (a person wrote it)
    bounced: list[str] = field(default_factory=list)  # our ids this bounce reports on
    bounce_reason: str = ""
    bounce_final: bool = False  # a failure, not "delayed"
    bounce_hard: bool = False  # a permanent failure (5.x.x): the address takes no mail
    problems: list[str] = field(default_factory=list)  # what could not be read

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, the nearest first."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen

    def chat_id(self, customer: str | None = None) -> str:
        """The dialog this message belongs to (see the module's doc); ``customer``: the
        address of the customer, when it is not the sender's (our own mail to them)."""
        for mid in self.thread_ids:
            chat = chat_of_our_id(mid)
            if chat is not None:
                return chat
        return chat_key(customer or self.reply_address or self.from_address or "unknown",
                        self.subject)

    def meta(self) -> dict[str, Any]:
        """What `InboundMessage.meta["email"]` keeps: enough to answer in the same thread."""
        kept: dict[str, Any] = {"message_id": self.message_id, "subject": self.subject,
                                "from": self.from_address}
        if self.references or self.in_reply_to:
            kept["references"] = _cap(self.references or self.in_reply_to)
        if self.full_text:
            kept["full"] = self.full_text
        if self.problems:
            kept["problems"] = self.problems
        return kept


def _cap(ids: list[str], keep: int = 20) -> list[str]:
    """A long References chain as mail software shortens it: the first and the last ones."""
    return ids if len(ids) <= keep else [ids[0], *ids[-(keep - 1):]]


def parse_message(raw: bytes) -> Parsed:
    """Read ``raw`` (as the IMAP server gives it); never raises for the message's sake."""
    problems: list[str] = []
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this is a last resort
        msg = EmailMessage()
        problems.append(f"unreadable message: {exc}")
    assert isinstance(msg, EmailMessage)
    fallback_charset = _first_charset(msg)

    def header(name: str) -> str:
        return _header(msg, name, fallback_charset, problems)

    from_name, from_address = _address(header("From"))
    reply_name, reply_address = _address(header("Reply-To"))
    if not reply_address:
        reply_name, reply_address = from_name, from_address
    elif not reply_name and reply_address == from_address:
        reply_name = from_name
    declared_id = message_ids(header("Message-ID"))
    message_id = (declared_id[0] if declared_id
                  else "sha256." + hashlib.sha256(raw).hexdigest()[:40] + "@opchat.invalid")
    date = None
    try:
        stamp = header("Date")
        date = parsedate_to_datetime(stamp).timestamp() if stamp else None
    except (TypeError, ValueError, IndexError, OverflowError):
        problems.append("unreadable Date")

    text, html, files = "", "", []
    try:
        text, html, files = _bodies(msg, problems)
    except Exception as exc:  # a structure the email package chokes on
        problems.append(f"unreadable body: {type(exc).__name__}")
        text = _decode(_raw_body(raw), "utf-8")
    if not text.strip() and html.strip():
        text = html_to_text(html)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    shown, folded = fold_quotes(text)

    parsed = Parsed(
        message_id=message_id, from_address=from_address, from_name=from_name,
        reply_address=reply_address, reply_name=reply_name or from_name,
        subject=header("Subject"), to_addresses=_addresses(header("To")), date=date,
        in_reply_to=message_ids(header("In-Reply-To")),
        references=message_ids(header("References")), text=shown,
        full_text=text if folded else "", files=files, problems=problems)
    _recognise_machines(msg, parsed, header)
    return parsed


def _first_charset(msg: Message) -> str:
    """The first charset the body declares: what raw 8-bit headers are most likely in."""
    try:
        for part in msg.walk():
            charset = part.get_content_charset()
            if charset and charset not in ("us-ascii", "utf-8") and _known(charset):
                return charset
    except Exception:
        pass
    return "utf-8"


def _known(charset: str) -> bool:
    try:
        codecs.lookup(charset)
    except (LookupError, ValueError):
        return False
    return True


def _header(msg: Message, name: str, fallback: str, problems: list[str]) -> str:
    try:
        value = msg.get(name)
        text = "" if value is None else str(value)
    except Exception:
        problems.append(f"unreadable {name}")
        try:
            raw = msg.get_all(name, failobj=[]) if hasattr(msg, "get_all") else []
            text = str(raw[0]) if raw else ""
        except Exception:
            return ""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        # Raw 8-bit bytes in a header (old software): most likely in the body's charset.
        data = text.encode("utf-8", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode(fallback, "replace")
    return " ".join(text.replace("\x00", "").split())


def _address(value: str) -> tuple[str, str]:
    try:
        pairs = getaddresses([value]) if value else []
    except Exception:
        pairs = [parseaddr(value)]
    for name, address in pairs:
        if "@" in address:
            return name.strip(), _clean_address(address)
    return "", ""


def _addresses(value: str) -> list[str]:
    try:
        pairs = getaddresses([value]) if value else []
    except Exception:
        return []
    return [_clean_address(address) for _name, address in pairs if "@" in address]


def _raw_body(raw: bytes) -> bytes:
    _head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        _head, sep, body = raw.partition(b"\n\n")
    return body


def _decode(data: bytes, charset: str | None) -> str:
    charset = (charset or "utf-8").strip().strip('"').lower()
    if charset in ("us-ascii", "ascii"):
        charset = "utf-8"  # 8-bit text labelled ASCII is most often UTF-8
    if not _known(charset):
        charset = "utf-8"
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return data.decode(charset, "replace")


def _part_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(part.get_payload() or "").encode("utf-8", "replace")
    return _decode(data, part.get_content_charset())


def _bodies(msg: Message, problems: list[str]) -> tuple[str, str, list[FilePart]]:
    """(text/plain, text/html, files): the first readable text of each kind."""
    plain: list[str] = []
    html: list[str] = []
    files: list[FilePart] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
            problems.append("unreadable file name")
        if ctype in ("text/plain", "text/html") and disposition != "attachment" \
                and not filename:
            (plain if ctype == "text/plain" else html).append(_part_text(part))
            continue
        if ctype in ("message/delivery-status", "message/rfc822", "text/rfc822-headers",
                     "message/disposition-notification", "message/feedback-report"):
            continue  # read by _recognise_machines; an opened report would be noise
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        files.append(FilePart(filename=filename, mime=ctype, data=data,
                              inline=disposition == "inline" or bool(part.get("Content-ID"))))
    return "\n\n".join(plain), "\n".join(html), files


def html_to_text(html: str) -> str:
    """HTML as readable text (no markup shown raw, no image fetched: images are dropped)."""
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0  # the terminal wraps
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True  # a layout table's cells as lines
    converter.unicode_snob = True
    converter.single_line_break = False
    converter.protect_links = False
    try:
        text = converter.handle(html)
    except Exception:
        text = re.sub(r"<[^>]+>", " ", html)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Folding quoted history and signatures ----------------------------------------------------

_ATTRIBUTION = re.compile(
    r"^\s*(?:On|Le|Am|El|Il|Op|W dniu|В|Вс|Пн|Вт|Ср|Чт|Пт|Сб|\d{1,2}[./]\d{1,2}[./]\d{2,4}|"
    r"\d{4}-\d{2}-\d{2})\b.*(?:wrote|écrit|schrieb|escribió|scritto|schreef|napisał|"
    r"написал|написала|пишет|написал\(а\))\s*:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Forwarded message|Исходное сообщение|"
    r"Пересылаемое сообщение|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$",
    re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*\**(?:From|От|Von|De|Från)\s*:\**\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\**(?:Sent|Date|Отправлено|Дата|Gesendet|Envoyé|To|Кому)"
                          r"\s*:", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(?:-- ?|__+|Sent from my \w+.*|Отправлено с (?:iPhone|iPad|"
                        r"моего \w+).*|Get Outlook for \w+.*)\s*$", re.IGNORECASE)


def fold_quotes(text: str) -> tuple[str, bool]:
    """(what the customer wrote now, whether something was folded away): the quoted
    history under a reply and the signature. Never folds everything away."""
    lines = text.split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        two = line + " " + lines[i + 1].strip() if i + 1 < len(lines) else line
        if _ORIGINAL.match(line) or _ATTRIBUTION.match(line):
            cut = i
            break
        if _ATTRIBUTION.match(two) and not line.startswith(">"):
            cut = i  # Gmail wraps a long "On …, X <x@y> wrote:" over two lines
            break
        if _HEADER_FROM.match(line) and any(_HEADER_NEXT.match(nxt)
                                            for nxt in lines[i + 1:i + 4]):
            cut = i  # Outlook: a From:/Sent:/To:/Subject: block above the old message
            break
        if line.startswith(">") and all(not rest.strip() or rest.startswith(">")
                                         for rest in lines[i:]):
            cut = i  # a quote at the bottom
            break
    kept = lines[:cut]
    for i, line in enumerate(kept):
        if _SIGNATURE.match(line) and i > 0:
            kept = kept[:i]
            break
    shown = "\n".join(kept).strip()
    if not shown:
        return text, False
    return shown, shown != text.strip()


# Machines: auto-replies and bounces ---------------------------------------------------------

_BOUNCE_FROM = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)


def _recognise_machines(msg: Message, parsed: Parsed, header: Any) -> None:
    ctype = msg.get_content_type() if isinstance(msg, Message) else ""
    report_type = (msg.get_param("report-type") or "") if ctype == "multipart/report" else ""
    if ctype == "multipart/report" and str(report_type).lower() == "delivery-status":
        _read_dsn(msg, parsed)
    elif _BOUNCE_FROM.match(parsed.from_address) or header("X-Failed-Recipients"):
        # A bounce in no standard form: our id quoted somewhere in it.
        found = [mid for mid in MESSAGE_ID.findall(_all_text(msg)) if is_our_id(mid)]
        if found:
            parsed.automated = "bounce"
            parsed.bounced = list(dict.fromkeys(found))
            parsed.bounce_final = True
            parsed.bounce_reason = _first_reason(parsed.text)
            parsed.bounce_hard = bool(_PERMANENT.search(parsed.bounce_reason))
    if parsed.automated:
        return
    auto_submitted = header("Auto-Submitted").lower()
    precedence = header("Precedence").lower()
    if (auto_submitted and auto_submitted != "no") or header("X-Autoreply") \
            or header("X-Autorespond") or header("X-Auto-Reply") \
            or precedence in ("auto_reply", "auto-reply"):
        parsed.automated = "auto-reply"
    elif precedence in ("bulk", "junk", "list") or header("List-Id"):
        parsed.automated = "bulk"


# An SMTP answer that says "never": 5xx, or an enhanced status 5.x.x (RFC 3463).
_PERMANENT = re.compile(r"(?<![\d.])5(?:\d\d|\.\d{1,3}\.\d{1,3})(?![\d])")


def _read_dsn(msg: Message, parsed: Parsed) -> None:
    parsed.automated = "bounce"
    reasons: list[str] = []
    final = False
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in _status_blocks(part):
                action = block.get("action", "").lower()
                if action == "failed":
                    final = True
                    if block.get("status", "").strip().startswith("5."):
                        parsed.bounce_hard = True
                    reason = block.get("diagnostic-code", "") or block.get("status", "")
                    if ";" in reason:
                        reason = reason.split(";", 1)[1]
                    if reason.strip():
                        reasons.append(" ".join(reason.split()))
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            for mid in MESSAGE_ID.findall(_headers_text(part)):
                if mid not in parsed.bounced:
                    parsed.bounced.append(mid)
    if not parsed.bounced:
        parsed.bounced = [mid for mid in dict.fromkeys(MESSAGE_ID.findall(_all_text(msg)))
                          if is_our_id(mid)]
    parsed.bounce_final = final
    parsed.bounce_reason = "; ".join(dict.fromkeys(reasons)) or _first_reason(parsed.text)


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient fields of a message/delivery-status part."""
    blocks: list[dict[str, str]] = []
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parsed the blocks as messages
        for block in payload:
            blocks.append({k.lower(): str(v) for k, v in block.items()})
        return blocks
    text = _part_text(part) if not isinstance(payload, str) else payload
    for chunk in re.split(r"\r?\n\s*\r?\n", text):
        fields: dict[str, str] = {}
        for line in re.sub(r"\r?\n[ \t]+", " ", chunk).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _headers_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        inner = payload[0]
        return "\n".join(f"{k}: {v}" for k, v in inner.items()
                         if k.lower() in ("message-id", "references", "in-reply-to"))
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)
    return "\n".join(line for line in text.splitlines()
                     if line.lower().startswith("message-id:"))


def _all_text(msg: Message) -> str:
    try:
        return msg.as_bytes(policy=email.policy.compat32).decode("utf-8", "replace")
    except Exception:
        return ""


def _first_reason(text: str) -> str:
    for line in text.splitlines():
        if re.search(r"\b[45]\d\d\b|\b[45]\.\d+\.\d+\b", line):
            return " ".join(line.split())[:300]
    return ""
