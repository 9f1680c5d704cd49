"""What crossed the wire: every recorded session rebuilt as a conversation of commands, replies
and message data, each with the simulated time its side sent it, and written as transcripts.

The simulation records session traces (``World(..., trace=True)``: :mod:`simulator.context`);
this module turns each trace, with the message facts read from the event log's ``created``,
``delivered``, ``bounced`` and ``bounce_sent``/``warning_sent`` records, into a
:class:`Conversation`: the TCP endpoints and the ordered :class:`Send` s of client (``C``) and
server (``S``). The same conversations feed the transcripts (``transcripts.jsonl``, written
here) and the packet capture (:mod:`simulator.pcap`), so both show the same bytes at the same
times.

Times are the moment the line's sender puts it on the wire, taken from the trace, so they
agree with the timing contract exactly: with ``d`` the path's one-way delay, an SMTP session
starting at ``t0`` (SYN) has the server's 220 at ``t0 + 3d`` (when the handshake's last ACK
arrives), EHLO at ``t0 + 4d``, the pipelined MAIL/RCPT/DATA group at ``t0 + 6d``, the data
spread over the trace's ``data_start .. data_end``, the server's ``250 ... queued as`` at
``accepted_at`` (the event log's ``accepted``) and QUIT at ``end`` (the ``sent`` event).
POP3, IMAP (IDLE included, re-issued every 29 minutes) and webmail follow their own traces
the same way. Message data is synthesized to exactly the bytes the simulation moved on that
hop: RFC 5322 headers, a text body (7-bit, 8-bit, or quoted-printable when a hop lacks
8BITMIME), base64 attachments in multipart/mixed, and RFC 3464 multipart/report DSNs. A
transcript shows the headers and a short excerpt of the body; the capture carries all of it.

``transcripts.jsonl`` has one JSON object per session (``session, protocol, client, server,
client_ip, server_ip, client_port, port, user, device, messages, about, start, end, lines``),
each line ``[time_s, side, text, message_ids]`` where side is ``C``, ``S`` or ``*`` (a note
about the connection, never sent) and message_ids (comma-joined, maybe empty) names the
messages the line is about.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .build import build_conversations
from .content import Content
from .conversation import Conversation, Send, all_nodes, node_addresses
from .facts import MessageFacts

__all__ = [
    "Content",
    "Conversation",
    "MessageFacts",
    "Send",
    "build_conversations",
    "node_addresses",
    "read_transcripts",
    "session_record",
    "write_transcripts",
]

# ---- transcripts ------------------------------------------------------------------------------


def session_record(conv: Conversation, addresses: dict[str, str]) -> dict[str, Any]:
    """One transcripts.jsonl object."""
    return {
        "session": conv.seq, "protocol": conv.protocol, "client": conv.client, "server": conv.server,
        "client_ip": addresses.get(conv.client, ""), "server_ip": addresses.get(conv.server, ""),
        "client_port": conv.client_port, "port": conv.port, "user": conv.user, "device": conv.device,
        "messages": conv.message_ids, "about": conv.about, "start": conv.start_s, "end": conv.end_s,
        "lines": [list(line) for line in conv.lines()],
    }


def write_transcripts(path: str | Path, conversations: Sequence[Conversation], scenario: Any = None) -> Path:
    """Write ``transcripts.jsonl``: one session per line, in the order sessions started."""
    out = Path(path)
    addresses = node_addresses(all_nodes(conversations, scenario))
    with open(out, "w") as f:
        for conv in conversations:
            f.write(json.dumps(session_record(conv, addresses), separators=(",", ":")) + "\n")
    return out


def read_transcripts(path: str | Path) -> list[dict[str, Any]]:
    """The sessions of a transcripts.jsonl (ValueError for a line that is not one)."""
    sessions = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(item, dict) or "lines" not in item:
                raise ValueError(f"{path}:{number}: not a transcript session")
            sessions.append(item)
    return sessions
