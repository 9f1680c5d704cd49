"""The ``mailsim trace`` subcommand: one message's conversations on the wire, in time order.

``mailsim trace DIR --message ID`` reads ``DIR/transcripts.jsonl`` (written by
``mailsim run --transcripts``) and prints every session that carried message ID: its
submission, each relay attempt (failed connects and 4xx/5xx replies included) and each
retrieval, with the simulated time each line was sent and its side (``C`` client, ``S``
server, ``*`` a note about the connection). A retrieval session that also moved other
messages shows only its own lines and the lines about ID (``--full`` shows everything).
Bad input (no folder, a folder whose files disagree with its manifest, no transcripts, an
unknown id) raises :class:`simulator.cli.CommandError`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .wording import counted

__all__ = ["TRANSCRIPTS_FILE", "format_session", "register"]

TRANSCRIPTS_FILE = "transcripts.jsonl"


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace, TextIO, TextIO], int]]:
    """Add ``trace`` to the ``mailsim`` parser; returns its handler."""
    p = subparsers.add_parser("trace", help="print one message's protocol conversations from a result folder")
    p.add_argument("folder", metavar="DIR", help="a result folder written by 'mailsim run --transcripts'")
    p.add_argument("--message", metavar="ID", required=True, help="the message id (see deliveries.csv)")
    p.add_argument("--full", action="store_true", help="show every line of each session, about any message")
    return {"trace": _trace}


def _sessions(folder: Path) -> list[dict[str, Any]]:
    from .cli import CommandError
    from .resultdir import ResultFolderError, verify
    from .transcript.jsonl import read_transcripts

    try:
        verify(folder)
    except (FileNotFoundError, ResultFolderError) as error:
        raise CommandError(str(error)) from None
    path = folder / TRANSCRIPTS_FILE
    if not path.is_file():
        raise CommandError(f"{folder} has no {TRANSCRIPTS_FILE}: run the scenario with 'mailsim run --transcripts'")
    try:
        return read_transcripts(path)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _about(line: list[Any], message_id: str) -> bool:
    tag = line[3] if len(line) > 3 else ""
    return not tag or message_id in tag.split(",")


def format_session(session: dict[str, Any], message_id: str = "", full: bool = False) -> list[str]:
    """A session's heading and its lines (only its own lines and those about ``message_id``
    unless ``full``), each ``time side: text``."""
    who = f" ({session['user']}" if session.get("user") else ""
    if who:
        who += f", device {session['device']})" if session.get("device") else ")"
    out = [
        f"-- session {session['session']}: {session['protocol']} {session['client']} [{session['client_ip']}]:"
        f"{session['client_port']} -> {session['server']} [{session['server_ip']}]:{session['port']}{who}, "
        f"{session['start']:.6f} .. {session['end']:.6f} s"
    ]
    skipped = 0
    for line in session["lines"]:
        if not full and message_id and not _about(line, message_id):
            skipped += 1
            continue
        if skipped:
            out.append(f"{'':>16}   ... {counted(skipped, 'line')} about other messages")
            skipped = 0
        time_s, side, text = line[0], line[1], line[2]
        out.append(f"{time_s:16.6f}  {side}{':' if side != '*' else ' '} {text}")
    if skipped:
        out.append(f"{'':>16}   ... {counted(skipped, 'line')} about other messages")
    return out


def _trace(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .cli import CommandError

    folder = Path(args.folder)
    sessions = _sessions(folder)
    mid = args.message
    mine = sorted((s for s in sessions if mid in s.get("messages", ())), key=lambda s: (s["start"], s["session"]))
    if not mine:
        raise CommandError(f"message {mid} is in no session of {folder / TRANSCRIPTS_FILE} "
                           "(unknown id, or not among the captured messages)")
    protocols = ", ".join(dict.fromkeys(s["protocol"] for s in mine))
    lines = [f"{mid}: {len(mine)} session{'s' if len(mine) != 1 else ''} ({protocols})"]
    for session in mine:
        lines += format_session(session, mid, args.full)
    dsns = sorted({dsn for s in sessions for dsn, about in s.get("about", ()) if about == mid})
    if dsns:
        lines.append(f"delivery status notifications about {mid}: {', '.join(dsns)} "
                     f"(mailsim trace {folder} --message ID)")
    out.write("\n".join(lines) + "\n")
    return 0
