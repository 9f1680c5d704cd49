"""What the event log says about the messages a run moved, read once for the transcripts.

:class:`MessageFacts` is one message (its ``created`` record: author, envelope, sizes, whether
its body is 8-bit, its attachments worked out from the size arithmetic of
:mod:`simulator.message`; for a DSN, who reports what). :class:`Facts` reads every message and
each recipient's mailbox (``delivered``), the DSN details (``bounced``, ``bounce_sent``,
``warning_sent``), the sessions cut after the server accepted (``session_cut``,
``submit_failed``) and which message a list's copy copies (``expanded``) from the log's records.
A recipient's :class:`Mailbox` answers what a retrieval session asks of it (what it held by a
time, how many, a message's UID) by bisection, so each session's cost does not grow with the
mailbox.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..eventkinds import as_dict
from ..eventlog import Record
from ..message import (
    BOUNDARY_LINE_BYTES,
    MULTIPART_HEADER_BYTES,
    PART_HEADER_BYTES,
    base64_bytes,
    header_bytes,
)
from ..protocols.trace import SessionTrace, SmtpTrace

__all__ = ["Facts", "Mailbox", "MessageFacts", "attachments_of"]


@dataclass(slots=True)
class MessageFacts:
    """What the event log says about one message (its ``created`` record), plus what follows
    from the size arithmetic of :mod:`simulator.message` (its attachments)."""

    id: str
    kind: str = "mail"
    author: str = ""
    sender: str = ""  # envelope sender; "" is the null sender of a DSN
    recipients: tuple[str, ...] = ()
    size_bytes: int = 0
    wire_bytes: int = 0
    created_s: float = 0.0
    node: str = ""
    about: str = ""
    code: str = ""
    attachments: tuple[int, ...] = ()
    eight_bit: bool = False
    # for a DSN: the server reporting, and per recipient (code, reason, host)
    reporter: str = ""
    reported: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def text_bytes(self) -> int:
        return self.size_bytes - sum(self.attachments)

    @property
    def is_dsn(self) -> bool:
        return self.kind != "mail"


def attachments_of(author: str, recipients: tuple[str, ...], size_bytes: int, wire_bytes: int) -> tuple[int, ...]:
    """The raw attachment sizes that make :func:`simulator.message.wire_bytes` give ``wire_bytes``
    (none, or one attachment; what traffic and scripted messages create)."""
    overhead = wire_bytes - header_bytes(author, recipients) - size_bytes
    if overhead <= 0:
        return ()
    fixed = MULTIPART_HEADER_BYTES + 2 * (BOUNDARY_LINE_BYTES + PART_HEADER_BYTES) + BOUNDARY_LINE_BYTES
    growth = overhead - fixed  # base64_bytes(n) - n
    if growth <= 0:
        return ()
    guess = growth * 57 // 21
    for n in range(max(1, guess - 64), min(size_bytes, guess + 64) + 1):
        if base64_bytes(n) - n == growth:
            return (n,)
    return ()


class Mailbox:
    """One recipient's deliveries (``delivered`` records, in the log's simulated-time order),
    indexed once for the sessions that read them."""

    __slots__ = ("ids", "times", "uid")

    def __init__(self, deliveries: Sequence[tuple[float, str]]) -> None:
        self.ids = [mid for _, mid in deliveries]
        self.times = sorted(t for t, _ in deliveries)  # already sorted: the log is in time order
        self.uid = {mid: i + 1 for i, mid in enumerate(self.ids)}  # IMAP UID: 1-based arrival order

    def count(self, at_s: float) -> int:
        """How many messages had arrived by ``at_s`` (inclusive)."""
        return bisect_right(self.times, at_s)

    def until(self, until_s: float) -> list[str]:
        """Ids delivered by ``until_s``, in order."""
        return self.ids[: self.count(until_s)]


class Facts:
    """Message facts, mailbox contents and DSN details read from the event log once."""

    def __init__(self, records: Sequence[Record], traces: Sequence[SessionTrace] = (), scenario: Any = None) -> None:
        self.messages: dict[str, MessageFacts] = {}
        self.delivered: dict[str, list[tuple[float, str]]] = {}  # rcpt -> [(time, message id)]
        self.tail_cuts: dict[tuple[str, str], list[float]] = {}  # (message, client node) -> 250 lost
        self.copies: dict[str, str] = {}  # a list's copy -> the message it copies
        self._boxes: dict[str, Mailbox] = {}
        for time_s, event, mid, node, values in records:
            if event == "created":
                self._created(time_s, mid, node, as_dict(event, values))
            elif event == "expanded":
                copy = values[3]
                if copy is not None:
                    self.copies[copy] = mid
            elif event == "delivered":
                (rcpt,) = values
                self.delivered.setdefault(rcpt, []).append((time_s, mid))
            elif event == "bounced":
                rcpt, code, reason, dsn_id, host = values
                dsn = self.messages.get(dsn_id)
                if dsn is not None:
                    dsn.reported.append((rcpt, code, reason, host or ""))
            elif event in ("session_cut", "submit_failed") and as_dict(event, values).get("accepted") is True:
                self.tail_cuts.setdefault((mid, node), []).append(time_s)
            elif event in ("bounce_sent", "warning_sent"):
                dsn_id, rcpts = values
                dsn = self.messages.get(dsn_id)
                if dsn is not None:
                    dsn.reporter = node
                    if event == "warning_sent":
                        dsn.reported.extend((r, dsn.code, "delayed", "") for r in rcpts)
        self._scripted_eight_bit(scenario)
        for trace in traces:  # an 8-bit body shows as a hop whose size differs from the message's
            facts = self.messages.get(trace.message_id)
            if facts is None or not isinstance(trace, SmtpTrace) or trace.connect_failed:
                continue
            if trace.body_8bit or trace.size_bytes != facts.wire_bytes:
                facts.eight_bit = True

    def _scripted_eight_bit(self, scenario: Any) -> None:
        """Scripted messages say whether their body is 8-bit (matched by time, sender, recipients)."""
        wanted: dict[tuple[str, tuple[str, ...]], list[float]] = {}  # (sender, recipients) -> times
        for m in getattr(scenario, "messages", ()) or ():
            if m.eight_bit:
                wanted.setdefault((m.from_, tuple(m.to)), []).append(m.at_s)
        if not wanted:
            return
        for facts in self.messages.values():
            times = wanted.get((facts.author, facts.recipients), ())
            if any(abs(facts.created_s - at) < 1e-6 for at in times):
                facts.eight_bit = True

    def _created(self, time_s: float, mid: str, node: str, f: dict[str, Any]) -> None:
        recipients: tuple[str, ...] = f["to"]
        sender = f["sender"]
        facts = MessageFacts(
            id=mid, kind=f.get("kind", "mail"), author=f.get("from", ""), sender="" if sender == "<>" else sender,
            recipients=recipients, size_bytes=f["size"], wire_bytes=f["wire"],
            created_s=time_s, node=node, about=f.get("about", ""), code=f.get("code", ""),
        )
        if not facts.is_dsn:
            facts.attachments = attachments_of(facts.author, recipients, facts.size_bytes, facts.wire_bytes)
        self.messages[mid] = facts

    def content_source(self, mid: str) -> str:
        """The message whose bytes ``mid`` carries: itself, or for a list's copy the message the
        list got (a list re-sends the same content: headers, ``To:`` the list, ``Message-ID``)."""
        while mid in self.copies:
            mid = self.copies[mid]
        return mid

    def get(self, mid: str) -> MessageFacts:
        facts = self.messages.get(mid)
        if facts is None:
            facts = self.messages[mid] = MessageFacts(id=mid)
        return facts

    def box(self, rcpt: str) -> Mailbox:
        """``rcpt``'s mailbox, indexed on first use."""
        box = self._boxes.get(rcpt)
        if box is None:
            box = self._boxes[rcpt] = Mailbox(self.delivered.get(rcpt, ()))
        return box

    def mailbox(self, rcpt: str, until_s: float) -> list[str]:
        """Ids delivered to ``rcpt``'s mailbox by ``until_s``, in order."""
        return self.box(rcpt).until(until_s)
