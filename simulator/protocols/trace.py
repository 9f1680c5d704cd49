"""What a traced session records as it runs: one typed record per session.

A world built with ``trace=True`` keeps these in ``ctx.traces`` (``Result.traces``), in the
order sessions started. Each session fills in its own record with what only the running session
knows: when it started, what the server answered, when each transfer started and ended, when
the server accepted, when it ended or an outage cut it. Everything else a transcript shows
follows from the protocol's dialogue layout (:mod:`simulator.protocols.dialogue`), the one the
session was timed by: :mod:`simulator.transcript` places the layout's lines from these moments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Fetch", "HttpTrace", "ImapRound", "ImapTrace", "Pop3Trace", "SessionTrace", "SmtpTrace"]


@dataclass(slots=True)
class SessionTrace:
    """Who talked to whom, when the client opened the connection (its SYN) and over what delay."""

    protocol: str  # smtp, submission, pop3, imap or http
    client: str
    server: str
    seq: int  # the order sessions started in
    message_id: str = ""  # the message an SMTP session carries ("" for retrieval)
    user: str = ""  # the user whose session it is (submission and retrieval)
    device: int = 0
    start_s: float = 0.0
    delay_s: float = 0.0  # the path's one-way delay d
    cut_s: float | None = None  # when an outage cut the session

    def fetched_ids(self) -> list[str]:
        """The messages the session fetched (retrieval)."""
        return []


@dataclass(slots=True)
class SmtpTrace(SessionTrace):
    """An SMTP or submission session: its envelope, the server's answers, its data transfer."""

    connect_timeout_s: float | None = None  # set when the connect failed: given up after this long
    pipelining: bool = True
    size_bytes: int = 0  # the message's size on this hop
    body_8bit: bool = False  # the body is 8-bit text
    eight_bit: bool = True  # both ends speak 8BITMIME
    limit_bytes: int = 0  # the server's SIZE
    rcpts: tuple[str, ...] = ()
    replies: list[tuple[str, str]] = field(default_factory=list)  # (recipient, code) the client learned
    data_start_s: float | None = None  # the data transfer's bits start and end moving
    data_end_s: float | None = None
    accepted_s: float | None = None  # the last byte and "." reached the server, which accepted
    end_s: float | None = None  # the client knows how it went: its 250 came back, or every refusal
    refusal_stage: str = ""  # a capacity limit refused the session: "greeting", "mail" or "rcpt"
    refusal_reply: str = ""  # that refusal's reply line ("421 4.7.0 ...")

    @property
    def connect_failed(self) -> bool:
        return self.connect_timeout_s is not None


class Fetch(NamedTuple):
    """One message fetched: the request left the client at ``requested_s``; the body's bits moved
    from ``data_start_s`` to ``data_end_s``."""

    message_id: str
    size_bytes: int
    requested_s: float
    data_start_s: float
    data_end_s: float


@dataclass(slots=True)
class Pop3Trace(SessionTrace):
    """A POP3 session: the maildrop as PASS found it, the messages retrieved, QUIT."""

    keep: bool = False  # messages stay on the server (UIDL, no DELE)
    locked: bool = False  # another session held the maildrop: -ERR
    stat_count: int = 0  # messages to retrieve
    dele: int = 0  # messages to delete
    fetches: list[Fetch] = field(default_factory=list)
    quit_s: float | None = None  # QUIT reached the server

    def fetched_ids(self) -> list[str]:
        return [f.message_id for f in self.fetches]


@dataclass(slots=True)
class HttpTrace(SessionTrace):
    """A webmail refresh: the messages opened."""

    fetches: list[Fetch] = field(default_factory=list)

    def fetched_ids(self) -> list[str]:
        return [f.message_id for f in self.fetches]


@dataclass(slots=True)
class ImapRound:
    """Fetches in a row, after what made the client look (``select``, ``exists``, ``noop``, or
    ``more`` mail announced meanwhile) at ``at_s``."""

    trigger: str
    at_s: float
    fetches: list[Fetch] = field(default_factory=list)


@dataclass(slots=True)
class ImapTrace(SessionTrace):
    """An IMAP session held open: its rounds of fetches until it was cut (or the run ended)."""

    idle: bool = True
    rounds: list[ImapRound] = field(default_factory=list)

    def fetched_ids(self) -> list[str]:
        return [f.message_id for r in self.rounds for f in r.fetches]
