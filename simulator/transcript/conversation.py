"""One TCP session as a transcript and a capture see it: the endpoints, and what each side sent.

A :class:`Conversation` is the session's TCP endpoints and the ordered :class:`Send` s of client
(``C``) and server (``S``), each stamped with the simulated time its side put it on the wire,
plus notes about the connection (``*``) and how it ended: closed by one side, cut by an
outage, or never connected. :meth:`Conversation.lines` gives the transcript's lines; a capture
replays the sends' bytes (:mod:`simulator.pcap`). :func:`run_addresses` labels a run's nodes
with IPv4 addresses, the same for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..protocols.dialogue import Line
from .content import Content

__all__ = ["PASSWORD", "Conversation", "Send", "node_addresses", "run_addresses"]

PASSWORD = '"********"'  # what a transcript shows for a password


@dataclass(slots=True)
class Send:
    """What one side puts on the wire at ``time_s``: ``text`` (protocol lines, CRLF-terminated)
    and, for message data, ``body`` then ``suffix``, spread evenly over ``time_s .. until_s``."""

    time_s: float
    side: str  # "C" or "S"
    text: str
    tag: str = ""  # comma-joined ids of the messages this is about
    body: Content | None = None
    until_s: float | None = None
    suffix: str = ""

    @property
    def size_bytes(self) -> int:
        body = self.body.size if self.body is not None else 0
        return len(self.text.encode()) + body + len(self.suffix.encode())

    def payload(self) -> tuple[bytes, bytes, bytes]:
        """(prefix, body, suffix) bytes."""
        body = self.body.render() if self.body is not None else b""
        return self.text.encode(), body, self.suffix.encode()


@dataclass(slots=True)
class Conversation:
    """One TCP session: its endpoints, what each side sent, and how it ended."""

    seq: int
    protocol: str
    client: str
    server: str
    port: int
    delay_s: float
    start_s: float
    message_ids: list[str] = field(default_factory=list)
    about: list[tuple[str, str]] = field(default_factory=list)  # (DSN id, id of the message it reports on)
    user: str = ""
    device: int = 0
    sends: list[Send] = field(default_factory=list)
    notes: list[tuple[float, str, str]] = field(default_factory=list)  # (time, text, tag)
    connect_failed: bool = False
    closer: str = ""  # the side that sends the first FIN ("" when the session never closes)
    close_s: float | None = None
    cut_s: float | None = None
    end_s: float = 0.0
    client_port: int = 0

    def say(self, time_s: float, side: str, lines: Sequence[str], tag: str = "") -> None:
        self.sends.append(Send(time_s, side, "".join(f"{line}\r\n" for line in lines), tag))

    def say_placed(self, placed: Sequence[tuple[float, Line]], words: Callable[[Line], list[str]],
                   tag: str = "") -> None:
        """Say a dialogue's placed lines (:func:`simulator.protocols.dialogue.lay_out`) in the
        ``words`` given for each; the lines one side sends at one moment go in one write."""
        i = 0
        while i < len(placed):
            time_s, side = placed[i][0], placed[i][1].side
            j = i + 1
            while j < len(placed) and placed[j][0] == time_s and placed[j][1].side == side:
                j += 1
            self.say(time_s, side, [text for _, line in placed[i:j] for text in words(line)], tag)
            i = j

    def note(self, time_s: float, text: str, tag: str = "") -> None:
        self.notes.append((time_s, text, tag))

    def close(self, side: str, time_s: float) -> None:
        self.closer, self.close_s = side, time_s
        self.end_s = max(self.end_s, time_s)

    def cut(self, time_s: float) -> None:
        """An outage ended the session at ``time_s``: drop what would have been sent from then on."""
        self.cut_s = time_s
        self.sends = [s for s in self.sends if s.time_s < time_s]
        for s in self.sends:
            if s.body is not None and (s.until_s is None or s.until_s >= time_s):
                s.body, s.until_s, s.suffix = None, None, ""
                self.note(s.time_s, "(message data was moving when the session was cut)", s.tag)
        self.closer, self.close_s = "", None
        self.note(time_s, "session cut by an outage")
        self.end_s = time_s

    def lines(self) -> list[tuple[float, str, str, str]]:
        """Every transcript line (time, side, text, tag) in time order."""
        out: list[tuple[float, int, str, str, str]] = []
        order = 0
        for send in self.sends:
            for line in _split(send.text):
                out.append((send.time_s, order, send.side, line, send.tag))
                order += 1
            if send.body is not None:
                excerpt = send.body.excerpt()
                for line in excerpt:
                    out.append((send.time_s, order, send.side, line, send.tag))
                    order += 1
                shown = len("".join(f"{line}\r\n" for line in excerpt).encode())
                until = send.until_s if send.until_s is not None else send.time_s
                if shown < send.body.size:
                    out.append((send.time_s, order, "*", f"... {send.body.size - shown} more bytes of message data "
                                f"until {until:.6f} ({send.body.size} in all)", send.tag))
                    order += 1
                for line in _split(send.suffix):
                    out.append((until, order, send.side, line, send.tag))
                    order += 1
        for time_s, text, tag in self.notes:
            out.append((time_s, order, "*", text, tag))
            order += 1
        out.sort(key=lambda x: (x[0], x[1]))
        return [(t, side, text, tag) for t, _, side, text, tag in out]


def _split(text: str) -> list[str]:
    """The lines of ``text`` (a last line without CRLF counts too)."""
    lines = text.split("\r\n")
    return lines[:-1] if lines[-1] == "" else lines


def node_addresses(nodes: Iterable[str]) -> dict[str, str]:
    """An IPv4 address per node name, 10.a.b.c in sorted name order (labels only)."""
    out: dict[str, str] = {}
    for i, name in enumerate(sorted(set(nodes))):
        hi, lo = divmod(i, 254)
        out[name] = f"10.{hi // 256}.{hi % 256}.{lo + 1}"
    return out


def run_addresses(conversations: Sequence[Conversation], scenario: Any = None) -> dict[str, str]:
    """The address of every node of the scenario and of the conversations: the labels the
    transcripts and the capture of one run share."""
    nodes = set(scenario.nodes()) if scenario is not None else set()
    for conv in conversations:
        nodes.update((conv.client, conv.server))
    return node_addresses(nodes)
