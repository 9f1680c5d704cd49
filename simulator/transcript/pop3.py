"""A POP3 session as a conversation: the POP3 layout it was timed by, worded and placed.

The lines and their offsets are the POP3 stretches of :mod:`simulator.protocols.retrieval`: the
greeting, USER and PASS, STAT (and UIDL when the device keeps messages on the server) from the
session's start; a RETR at each fetch's ``requested_s`` with the message data over the fetch's
transfer; then DELE for each message and QUIT, from the last response's arrival, the server
signing off at ``quit_s``. A maildrop locked by another session is refused. Messages fetched in
a session an outage cut before QUIT stay in the maildrop: the device's next session finds them
again (``owed_by_device``).
"""

from __future__ import annotations

from ..protocols import retrieval as layout
from ..protocols.dialogue import Line, lay_out
from ..protocols.trace import Pop3Trace
from .content import content_for
from .conversation import PASSWORD, Conversation, Send
from .facts import Facts

__all__ = ["Owed", "build_pop3"]

# POP3 device (user, device number) -> the messages it fetched and has not deleted: (id, size)
Owed = dict[tuple[str, int], list[tuple[str, int]]]


def build_pop3(conv: Conversation, trace: Pop3Trace, facts: Facts, owed_by_device: Owed) -> None:
    """Fill ``conv`` with the POP3 dialogue of ``trace``; updates ``owed_by_device``."""
    t0, d, user = conv.start_s, conv.delay_s, conv.user
    fetches = trace.fetches
    conv.message_ids = [x.message_id for x in fetches]
    device = (user, conv.device)
    owed = owed_by_device.get(device, [])
    keep = trace.keep
    words = _Words(conv)
    conv.say_placed(lay_out((layout.POP3_OPENING,), t0, d)[0], words)
    if trace.locked:
        placed, _ = lay_out((layout.POP3_LOCKED,), t0, d)
        conv.say_placed(placed, words)
        conv.close("S", placed[-1][0])
        return
    sizes = {mid: facts.get(mid).wire_bytes for mid in conv.message_ids}
    sizes.update({x.message_id: x.size_bytes for x in fetches})
    if keep:
        drop = facts.mailbox(user, t0 + layout.POP3_READY.at_d("pass_ok") * d)
    else:
        drop = [mid for mid, _ in owed] + conv.message_ids
        sizes.update(dict(owed))
    words.number = {mid: i + 1 for i, mid in enumerate(drop)}
    words.drop = drop
    words.count = len(drop) if keep else max(len(drop), trace.dele)
    words.octets = sum(sizes.get(mid, facts.get(mid).wire_bytes) for mid in drop)
    placed, t = lay_out((layout.POP3_READY,), t0, d)
    conv.say_placed(placed, words)
    if keep:
        placed, t = lay_out((layout.POP3_UIDL,), t, d)
        conv.say_placed(placed, words)
    for mid, size, requested, _, end in fetches:
        conv.say(requested, "C", [f"RETR {words.number.get(mid, 0)}"], mid)
        content = content_for(facts, mid, size)
        start = requested + layout.FETCH_REQUEST_D * d  # the RETR reaches the server
        conv.sends.append(Send(start, "S", f"+OK {size} octets\r\n", mid, content, max(start, end), ".\r\n"))
        t = end + layout.FETCH_TAIL_D * d
    finished = len(fetches) >= trace.stat_count
    if finished:
        for k in range(1, (0 if keep else trace.dele) + 1):
            words.dele = k
            tag = drop[k - 1] if k - 1 < len(drop) else ""
            placed, t = lay_out((layout.POP3_DELE,), t, d)
            conv.say_placed(placed, words, tag)
    quit_line, signoff = lay_out((layout.POP3_QUIT,), t, d)[0]
    if finished:
        conv.say_placed([quit_line], words)
    if trace.cut_s is not None and trace.quit_s is None:
        owed_by_device[device] = [*owed, *((x.message_id, x.size_bytes) for x in fetches)] if not keep else []
        conv.cut(trace.cut_s)
        return
    owed_by_device[device] = []
    end_s = trace.quit_s if trace.quit_s is not None else signoff[0]  # the server signs off as QUIT arrives
    conv.say_placed([(end_s, signoff[1])], words)
    conv.close("S", end_s)


class _Words:
    """What each POP3 line says, for one session (the maildrop as STAT and UIDL show it)."""

    def __init__(self, conv: Conversation) -> None:
        self.texts = {  # the lines that say the same in every session
            "greeting": f"+OK POP3 {conv.server} ready", "user": f"USER {conv.user}", "user_ok": "+OK",
            "pass": f"PASS {PASSWORD}", "in_use": "-ERR [IN-USE] maildrop already locked by another session",
            "quit": "QUIT", "bye": "+OK bye", "pass_ok": "+OK maildrop locked and ready", "stat": "STAT",
            "uidl": "UIDL", "signoff": f"+OK POP3 {conv.server} signing off",
        }
        self.number: dict[str, int] = {}  # message id -> its number in the maildrop
        self.drop: list[str] = []
        self.count = 0
        self.octets = 0
        self.dele = 0  # the message the DELE being worded deletes

    def __call__(self, line: Line) -> list[str]:
        says = line.says
        text = self.texts.get(says)
        if text is not None:
            return [text]
        if says == "stat_reply":
            return [f"+OK {self.count} {self.octets}"]
        if says == "uidl_reply":
            return ["+OK", *(f"{self.number[mid]} {mid}" for mid in self.drop), "."]
        if says == "dele":
            return [f"DELE {self.dele}"]
        if says == "dele_reply":
            return [f"+OK message {self.dele} deleted"]
        raise ValueError(f"a POP3 layout line says {says!r}, which has no words")
