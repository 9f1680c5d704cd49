"""A message's bytes on one hop, synthesized to exactly the size the simulation moved.

:func:`content_for` picks the form: a user message (:func:`mail_content`: RFC 5322 headers, a
text body in 7-bit, 8-bit, or quoted-printable when a hop lacks 8BITMIME, and each attachment
base64-encoded in a multipart/mixed part) or a delivery status notification
(:func:`dsn_content`: an RFC 3464 multipart/report). When the fixed parts do not leave room, the
layout degrades step by step (optional headers, then detail) until they do. A
:class:`Content` is fixed byte strings and generated :class:`~.body_lines.Run` s; a transcript
shows its headers and a short excerpt of the body (a DSN in full), a capture carries all of it.
"""

from __future__ import annotations

import email.utils
import functools
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..message import base64_bytes
from .body_lines import CRLF, LINE_CHARS, Run
from .facts import Facts, MessageFacts
from .replies import REASONS, STATUS

__all__ = ["Content", "content_for", "domain_of", "dsn_content", "mail_content", "mail_date"]

EXCERPT_BODY_LINES = 3


class Content:
    """A message's bytes on one hop: fixed byte strings and generated :class:`Run` s. A ``whole``
    content (a DSN) shows in full in transcripts; others show their headers and an excerpt."""

    __slots__ = ("pieces", "size", "whole")

    def __init__(self, pieces: Sequence[bytes | Run], whole: bool = False) -> None:
        self.pieces = list(pieces)
        self.size = sum(len(p) if isinstance(p, bytes) else p.size for p in self.pieces)
        self.whole = whole

    def render(self, limit: int | None = None) -> bytes:
        """The bytes (the first ``limit`` only, if given)."""
        out = bytearray()
        for piece in self.pieces:
            left = None if limit is None else limit - len(out)
            if left is not None and left <= 0:
                break
            out += piece[:left] if isinstance(piece, bytes) else piece.render(left)
        return bytes(out)

    def excerpt(self, body_lines: int = EXCERPT_BODY_LINES) -> list[str]:
        """The header block and the first ``body_lines`` lines after it (all of a ``whole``
        content), as text lines."""
        head = self.render(16384).decode("utf-8", errors="replace")
        lines = head.split("\r\n")
        if self.whole and self.size <= 16384:
            return lines[:-1]
        try:
            blank = lines.index("")
        except ValueError:
            return lines[:-1]
        return lines[: min(blank + 1 + body_lines, len(lines) - 1)]


@functools.lru_cache(maxsize=1 << 16)  # a message's date shows on each of its hops
def mail_date(time_s: float) -> str:
    """Simulated time ``time_s`` as an RFC 5322 date (time 0 is 1970-01-01 00:00:00 UTC)."""
    return email.utils.format_datetime(datetime.fromtimestamp(time_s, UTC)).replace("-0000", "+0000")


def _fold(name: str, values: Sequence[str]) -> str:
    """A header listing ``values``, folded one value per line after the first."""
    return f"{name}: " + ",\r\n ".join(values) if values else f"{name}: undisclosed-recipients:;"


def domain_of(address: str) -> str:
    """What follows the last '@' of ``address`` (``localhost`` for an empty address)."""
    return address.rpartition("@")[2] or "localhost"


def _header_block(lines: Sequence[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _subject(facts: MessageFacts) -> str:
    if facts.kind == "bounce":
        return "Undelivered Mail Returned to Sender"
    if facts.kind == "warning":
        return "Delayed Mail (still being retried)"
    return f"Message {facts.id}"


def _mail_headers(facts: MessageFacts, received: str, optional: bool) -> list[str]:
    lines = []
    if optional and received:
        lines.append(received)
    lines += [
        f"Date: {mail_date(facts.created_s)}",
        f"From: <{facts.author}>",
        _fold("To", [f"<{r}>" for r in facts.recipients]),
        f"Subject: {_subject(facts)}",
        f"Message-ID: <{facts.id}@{domain_of(facts.author)}>",
        "MIME-Version: 1.0",
    ]
    if optional:
        lines.append("User-Agent: mailsim")
    return lines


def _fit(pieces_for: Any, size: int, levels: int) -> Content:
    """The first layout (by degradation level) whose fixed parts leave 0 or >= 2 bytes for its
    flexible run; as a last resort the fixed parts cut to ``size`` (ending in CRLF)."""
    pieces: list[bytes | Run] = []
    for level in range(levels):
        pieces, flex_kind, flex_index = pieces_for(level)
        left = size - Content(pieces).size
        if left == 1:  # no line is one byte long: grow the Subject by one character
            pieces = [p.replace(b"\r\nSubject: ", b"\r\nSubject:  ", 1) if isinstance(p, bytes) else p
                      for p in pieces]
            left = size - Content(pieces).size
        if left >= 0 and left != 1:
            pieces[flex_index] = Run(flex_kind, left)
            return Content(pieces)
    raw = Content([p for p in pieces if isinstance(p, bytes)]).render()
    return Content([raw[: max(0, size - 2)] + CRLF[: min(2, size)]])


def mail_content(facts: MessageFacts, size_bytes: int, encoding: str, received: str = "") -> Content:
    """A user message of exactly ``size_bytes``: headers, a text body in ``encoding`` (7bit,
    8bit, quoted-printable), and each attachment base64-encoded in a multipart/mixed part."""
    boundary = f"=_mailsim_{facts.id}"
    charset = "us-ascii" if encoding == "7bit" else "utf-8"
    text_type = f"Content-Type: text/plain; charset={charset}"
    cte = f"Content-Transfer-Encoding: {encoding}"

    def layout(level: int) -> tuple[list[bytes | Run], str, int]:
        headers = _mail_headers(facts, received, optional=level == 0)
        kind = encoding
        if not facts.attachments:
            return [_header_block([*headers, text_type, cte]), b""], kind, 1
        pieces: list[bytes | Run] = [
            _header_block([*headers, f'Content-Type: multipart/mixed; boundary="{boundary}"']),
            _header_block([f"--{boundary}", text_type, cte]),
            b"",
        ]
        for i, raw in enumerate(facts.attachments, start=1):
            pieces.append(_header_block([
                f"--{boundary}", f'Content-Type: application/octet-stream; name="file{i}.bin"',
                "Content-Transfer-Encoding: base64", f'Content-Disposition: attachment; filename="file{i}.bin"',
            ]))
            pieces.append(Run("base64", base64_bytes(raw), raw))
        pieces.append(f"--{boundary}--\r\n".encode())
        return pieces, kind, 2

    return _fit(layout, size_bytes, 2)


def _status(code: str, reason: str) -> str:
    if reason == "expired":
        return "5.4.7"
    if reason == "delayed":
        return STATUS.get(code, "4.0.0")
    return STATUS.get(code, "5.0.0")


def dsn_content(facts: MessageFacts, original: MessageFacts | None, size_bytes: int) -> Content:
    """An RFC 3464 multipart/report (report-type=delivery-status) of exactly ``size_bytes``."""
    boundary = f"=_mailsim_{facts.id}"
    reporter = facts.reporter or domain_of(facts.author)
    delayed = facts.kind == "warning"
    orig = original or MessageFacts(id=facts.about)
    if delayed:
        intro = (f"This is the mail system at {reporter}. Your message has not been delivered yet to the "
                 "recipients listed in the report below. The mail system will keep trying.")
    else:
        intro = (f"This is the mail system at {reporter}. Your message could not be delivered to the "
                 "recipients listed in the report below, and delivery has been abandoned.")

    def recipient_block(rcpt: str, code: str, reason: str, host: str, full: bool) -> list[str]:
        local = code == "554" and not host and reason == "refused"  # no MX better than this server: a loop
        status = "5.4.6" if local else _status(code, reason)
        lines = [f"Final-Recipient: rfc822; {rcpt}", f"Action: {'delayed' if delayed else 'failed'}",
                 f"Status: {status}"]
        if full and host:
            lines.append(f"Remote-MTA: dns; {host}")
        if full and local:
            lines.append(f"Diagnostic-Code: x-local; mail for {domain_of(rcpt)} loops back to {reporter}")
        elif full and code:
            lines.append(f"Diagnostic-Code: smtp; {code} {_status(code, 'delayed' if delayed else '')} "
                         f"<{rcpt}>: {REASONS.get(code, 'delivery failed')}")
        return lines

    def layout(level: int) -> tuple[list[bytes | Run], str, int]:
        headers = [
            f"Date: {mail_date(facts.created_s)}",
            f"From: MAILER-DAEMON@{reporter} (Mail Delivery System)",
            f"To: <{facts.recipients[0] if facts.recipients else ''}>",
            f"Subject: {_subject(facts)}",
            f"Message-ID: <{facts.id}@{reporter}>",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        ]
        status = [f"Reporting-MTA: dns; {reporter}", f"Arrival-Date: {mail_date(orig.created_s)}", ""]
        for rcpt, code, reason, host in facts.reported or [(r, facts.code, "", "") for r in orig.recipients]:
            status += [*recipient_block(rcpt, code, reason, host, full=level <= 1), ""]
        if level == 0:
            original_headers = _mail_headers(orig, "", optional=True)
        else:
            original_headers = [f"From: <{orig.author}>", f"Subject: {_subject(orig)}",
                                f"Message-ID: <{orig.id}@{domain_of(orig.author)}>"]
        human = [f"--{boundary}", "Content-Type: text/plain; charset=us-ascii", "Content-Description: Notification",
                 "", *(textwrap.wrap(intro, LINE_CHARS) if level <= 2 else [f"Mail system at {reporter}."]), ""]
        pieces: list[bytes | Run] = [
            _header_block(headers),
            ("\r\n".join(human) + "\r\n").encode(),
            b"",
            _header_block([f"--{boundary}", "Content-Type: message/delivery-status",
                           "Content-Description: Delivery report"]),
            ("\r\n".join(status) + "\r\n").encode(),
            _header_block([f"--{boundary}", "Content-Type: text/rfc822-headers",
                           "Content-Description: Headers of the original message"]),
            ("\r\n".join(original_headers) + "\r\n").encode(),
            f"--{boundary}--\r\n".encode(),
        ]
        return pieces, "warning" if delayed else "bounce", 2

    content = _fit(layout, size_bytes, 4)
    content.whole = True
    return content


def content_for(facts: Facts, mid: str, size_bytes: int, eight_bit_clean: bool = True, received: str = "") -> Content:
    """The bytes of message ``mid`` on a hop that moves ``size_bytes`` of it (a list's copy: the
    bytes of the message it copies)."""
    f = facts.get(facts.content_source(mid))
    if f.is_dsn:
        return dsn_content(f, facts.messages.get(facts.content_source(f.about)), size_bytes)
    encoding = "7bit"
    if f.eight_bit:
        encoding = "8bit" if eight_bit_clean and size_bytes == f.wire_bytes else "quoted-printable"
    return mail_content(f, size_bytes, encoding, received)
