"""The run's session traces turned into conversations, one pass in the order sessions started.

:func:`build_conversations` reads the message facts from the event log once, gives each
session its protocol's port and a client port (the ephemeral range, counted per client,
server and port), and has its protocol's module fill in the dialogue from the session's typed
trace (:mod:`simulator.protocols.trace`): :mod:`.smtp` (SMTP and submission), :mod:`.pop3`,
:mod:`.imap` and :mod:`.http` (webmail).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..eventlog import Record
from ..protocols.trace import HttpTrace, ImapTrace, Pop3Trace, SessionTrace, SmtpTrace
from .conversation import Conversation
from .facts import Facts
from .http import build_http
from .imap import build_imap
from .pop3 import Owed, build_pop3
from .smtp import build_smtp

__all__ = ["PORTS", "build_conversations"]

PORTS = {"smtp": 25, "submission": 587, "pop3": 110, "imap": 143, "http": 80}
EPHEMERAL_FIRST, EPHEMERAL_COUNT = 49152, 16384


class _Builder:
    """Turns traces into conversations (one pass, in trace order)."""

    def __init__(self, facts: Facts, scenario: Any = None, end_s: float | None = None) -> None:
        self.facts = facts
        self.end_s = end_s
        self.servers = dict(getattr(scenario, "servers", {}) or {})
        self.home = scenario.domains() if scenario is not None else {}
        self.ports: dict[tuple[str, str, int], int] = {}
        self.owed: Owed = {}  # POP3 device -> held, not deleted

    def build(self, trace: SessionTrace) -> Conversation:
        protocol = trace.protocol
        conv = Conversation(
            seq=trace.seq, protocol=protocol, client=trace.client, server=trace.server,
            port=PORTS[protocol], delay_s=trace.delay_s, start_s=trace.start_s, user=trace.user, device=trace.device,
        )
        key = (conv.client, conv.server, conv.port)
        n = self.ports.get(key, 0)
        self.ports[key] = n + 1
        conv.client_port = EPHEMERAL_FIRST + n % EPHEMERAL_COUNT
        conv.end_s = conv.start_s
        if isinstance(trace, SmtpTrace):
            build_smtp(conv, trace, self.facts, self.servers, self.home)
        elif isinstance(trace, Pop3Trace):
            build_pop3(conv, trace, self.facts, self.owed)
        elif isinstance(trace, ImapTrace):
            build_imap(conv, trace, self.facts, self.end_s)
        elif isinstance(trace, HttpTrace):
            build_http(conv, trace, self.facts)
        else:
            raise TypeError(f"no conversation for a {type(trace).__name__}")
        conv.end_s = max([conv.end_s, *(s.until_s or s.time_s for s in conv.sends), *(t for t, _, _ in conv.notes)])
        conv.about = [(m, self.facts.get(m).about) for m in conv.message_ids if self.facts.get(m).about]
        return conv


def build_conversations(
    traces: Sequence[SessionTrace],
    records: Sequence[Record],
    scenario: Any = None,
    end_s: float | None = None,
    only: Iterable[str] | None = None,
) -> list[Conversation]:
    """Every traced session as a conversation, in the order sessions started; with ``only``,
    the retrieval sessions that moved none of those messages are left out."""
    facts = Facts(records, traces, scenario)
    builder = _Builder(facts, scenario, end_s)
    conversations = [builder.build(t) for t in sorted(traces, key=lambda t: t.seq)]
    if only is not None:
        wanted = set(only)
        conversations = [c for c in conversations if wanted.intersection(c.message_ids)
                         or (c.protocol in ("smtp", "submission") and c.connect_failed)]
    conversations.sort(key=lambda c: (c.start_s, c.seq))
    return conversations
