"""A POP3 session as a conversation, timed by its trace.

With ``d`` the path's one-way delay, a session starting at ``t0`` has the greeting at
``t0 + 3d``, USER and PASS, STAT (and UIDL when the device keeps messages on the server), a
RETR at each fetch's ``requested`` time with the message data over the fetch's transfer, then
DELE for each message and QUIT. A maildrop locked by another session is refused. Messages
fetched in a session an outage cut before QUIT stay in the maildrop: the device's next session
finds them again (``owed_by_device``).
"""

from __future__ import annotations

from typing import Any

from .content import content_for
from .conversation import PASSWORD, Conversation, Send
from .facts import Facts

__all__ = ["Owed", "build_pop3"]

# POP3 device (user, device number) -> the messages it fetched and has not deleted: (id, size)
Owed = dict[tuple[str, int], list[tuple[str, int]]]


def build_pop3(conv: Conversation, trace: dict[str, Any], facts: Facts,
               owed_by_device: Owed) -> None:
    """Fill ``conv`` with the POP3 dialogue of ``trace``; updates ``owed_by_device``."""
    t0, d, user = conv.start_s, conv.delay_s, conv.user
    fetches = list(trace.get("fetches") or ())
    conv.message_ids = [x[0] for x in fetches]
    device = (user, conv.device)
    owed = owed_by_device.get(device, [])
    keep = bool(trace.get("keep"))
    conv.say(t0 + 3 * d, "S", [f"+OK POP3 {conv.server} ready"])
    conv.say(t0 + 4 * d, "C", [f"USER {user}"])
    conv.say(t0 + 5 * d, "S", ["+OK"])
    conv.say(t0 + 6 * d, "C", [f"PASS {PASSWORD}"])
    if trace.get("locked"):
        conv.say(t0 + 7 * d, "S", ["-ERR [IN-USE] maildrop already locked by another session"])
        conv.say(t0 + 8 * d, "C", ["QUIT"])
        conv.say(t0 + 9 * d, "S", ["+OK bye"])
        conv.close("S", t0 + 9 * d)
        return
    sizes = {mid: facts.get(mid).wire_bytes for mid in conv.message_ids}
    sizes.update({x[0]: int(x[1]) for x in fetches})
    if keep:
        drop = facts.mailbox(user, t0 + 7 * d)
        number = {mid: i + 1 for i, mid in enumerate(drop)}
    else:
        drop = [mid for mid, _ in owed] + conv.message_ids
        sizes.update(dict(owed))
        number = {mid: i + 1 for i, mid in enumerate(drop)}
    count = len(drop) if keep else max(len(drop), int(trace.get("dele", 0) or 0))
    octets = sum(sizes.get(mid, facts.get(mid).wire_bytes) for mid in drop)
    conv.say(t0 + 7 * d, "S", ["+OK maildrop locked and ready"])
    conv.say(t0 + 8 * d, "C", ["STAT"])
    conv.say(t0 + 9 * d, "S", [f"+OK {count} {octets}"])
    t = t0 + 10 * d
    if keep:
        conv.say(t, "C", ["UIDL"])
        conv.say(t + d, "S", ["+OK", *(f"{number[mid]} {mid}" for mid in drop), "."])
        t += 2 * d
    for mid, size, requested, _, end in fetches:
        conv.say(float(requested), "C", [f"RETR {number.get(mid, 0)}"], mid)
        content = content_for(facts, mid, int(size))
        start = float(requested) + d  # the RETR reaches the server
        conv.sends.append(Send(start, "S", f"+OK {size} octets\r\n", mid, content, max(start, float(end)),
                               ".\r\n"))
        t = float(end) + d
    finished = len(fetches) >= int(trace.get("stat_count", 0) or 0)
    dele = int(trace.get("dele", 0) or 0) if not keep else 0
    if finished:
        for k in range(1, dele + 1):
            tag = drop[k - 1] if k - 1 < len(drop) else ""
            conv.say(t, "C", [f"DELE {k}"], tag)
            conv.say(t + d, "S", [f"+OK message {k} deleted"], tag)
            t += 2 * d
        conv.say(t, "C", ["QUIT"])
    quit_at = trace.get("quit_at")
    if trace.get("cut_at") is not None and quit_at is None:
        owed_by_device[device] = [*owed, *((x[0], int(x[1])) for x in fetches)] if not keep else []
        conv.cut(float(trace["cut_at"]))
        return
    owed_by_device[device] = []
    end = float(quit_at) if quit_at is not None else t + d
    conv.say(end, "S", [f"+OK POP3 {conv.server} signing off"])
    conv.close("S", end)
