"""``transcripts.jsonl``: the conversations written one session a line, and read back.

Each line is one JSON object per session (``session, protocol, client, server, client_ip,
server_ip, client_port, port, user, device, messages, about, start, end, lines``), in the order
sessions started, each of its lines ``[time_s, side, text, message_ids]`` where side is ``C``,
``S`` or ``*`` (a note about the connection, never sent) and message_ids (comma-joined, maybe
empty) names the messages the line is about.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .conversation import Conversation, run_addresses

__all__ = ["read_transcripts", "session_record", "write_transcripts"]


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
    addresses = run_addresses(conversations, scenario)
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
