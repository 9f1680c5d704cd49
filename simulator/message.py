"""A message and its size on the wire (RFC 5322 headers, MIME parts, base64 attachments).

``size_bytes`` is what the user wrote (text body plus raw attachment bytes); ``wire_bytes`` is
what crosses the network: headers, the text body, and each attachment base64-encoded
(RFC 2045 §6.8: ``4*ceil(n/3)`` characters plus CRLF every 76) with its MIME part headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .mailbox import Mailbox

# Bytes of the fixed header block a typical MUA writes (Date, Message-ID, Subject,
# MIME-Version, Content-Type, User-Agent, a Received line added on submission).
BASE_HEADER_BYTES = 420
# "From: " and "To: " with their CRLF, around the addresses.
FROM_LINE_BYTES = len("From: ") + 2
TO_LINE_BYTES = len("To: ") + 2
# A multipart/mixed message adds its boundary lines and a part header per part.
MULTIPART_HEADER_BYTES = 80
PART_HEADER_BYTES = 120
BOUNDARY_LINE_BYTES = 44
# A DSN (RFC 3464 multipart/report): human-readable part, delivery-status part, and the
# original message's headers.
DSN_BODY_BYTES = 1200

# Share of octets with the high bit set in a typical 8-bit (non-ASCII UTF-8) text body; each
# becomes "=XX" in quoted-printable (RFC 2045 §6.7), lines kept to 76 with "=" soft breaks.
EIGHT_BIT_PERCENT = 15

MAIL, BOUNCE, WARNING = "mail", "bounce", "warning"


def quoted_printable_bytes(text_bytes: int) -> int:
    """Size of an 8-bit text body encoded as quoted-printable for a 7-bit hop."""
    high = -(-text_bytes * EIGHT_BIT_PERCENT // 100)  # rounded up, in integers so sizes are exact
    chars = text_bytes + 2 * high
    return chars + 3 * (chars // 73)


def base64_bytes(raw_bytes: int) -> int:
    """Encoded size of ``raw_bytes`` of binary data in base64 lines of 76 characters plus CRLF."""
    chars = 4 * -(-raw_bytes // 3)
    return chars + 2 * -(-chars // 76)


def header_bytes(sender: str, recipients: tuple[str, ...]) -> int:
    """Size of the header block: the fixed fields plus From: and To: lines."""
    from_line = FROM_LINE_BYTES + len(sender)
    to_line = TO_LINE_BYTES + len(", ".join(recipients))
    return BASE_HEADER_BYTES + from_line + to_line


def wire_bytes(sender: str, recipients: tuple[str, ...], text_bytes: int, attachments: tuple[int, ...]) -> int:
    """Bytes that cross the network for a message with this text body and these attachments."""
    size = header_bytes(sender, recipients) + text_bytes
    if attachments:
        size += MULTIPART_HEADER_BYTES
        size += (len(attachments) + 1) * (BOUNDARY_LINE_BYTES + PART_HEADER_BYTES) + BOUNDARY_LINE_BYTES
        size += sum(base64_bytes(a) for a in attachments)
    return size


@dataclass(slots=True, eq=False)
class Message:
    """One message as its envelope and sizes; the same object travels from server to server.

    ``sender`` is the envelope sender (``""`` is the null sender ``<>`` of a DSN); ``author`` is
    who the row in ``deliveries.csv`` names as sender (``MAILER-DAEMON@server`` for a DSN).

    ``delivered_to`` is where it has been delivered (a later delivery to one of them is a
    duplicate): kept on the message rather than by each mailbox, so that it leaves memory with
    the message when the message is done, and a mailbox remembers no message it no longer holds.
    """

    id: str
    kind: str
    sender: str
    author: str
    recipients: tuple[str, ...]
    size_bytes: int
    wire_bytes: int
    created_s: float
    about: str = ""  # for a DSN: the id of the message it reports on
    text_bytes: int = 0
    attachments: tuple[int, ...] = ()  # raw sizes of the attachments
    origin: int = -1  # index of the traffic entry whose behaviour (reply, forward, file) applies
    eight_bit: bool = False  # the text body has octets with the high bit set
    wire_7bit_bytes: int = 0  # wire size when a hop lacks 8BITMIME (text quoted-printable); 0: same
    # The mailbox it was delivered to, a set of them once it is in two; None before its first delivery.
    delivered_to: Mailbox | set[Mailbox] | None = field(default=None, repr=False)

    def hop_bytes(self, eight_bit_clean: bool) -> int:
        """Bytes on a hop: as written when both ends speak 8BITMIME (RFC 6152), else 7-bit encoded."""
        if self.eight_bit and not eight_bit_clean and self.wire_7bit_bytes:
            return self.wire_7bit_bytes
        return self.wire_bytes

    @property
    def header_recipients(self) -> tuple[str, ...]:
        """The addresses of the ``To:`` header (a list's copy keeps the original's)."""
        return self.recipients

    @property
    def is_dsn(self) -> bool:
        return self.kind != MAIL
