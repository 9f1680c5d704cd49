"""An IMAP session as a conversation, timed by its trace.

With ``d`` the path's one-way delay, a session starting at ``t0`` has the greeting at
``t0 + 3d``, LOGIN and SELECT, then the trace's rounds: a new message announced by ``* EXISTS``
while the client IDLEs (DONE, then the fetches) or found by a NOOP poll, a UID FETCH at each
fetch's ``requested`` time with the message data over the fetch's transfer, and IDLE again.
An IDLE with nothing to report is ended and issued again every 29 minutes (RFC 2177) until the
next round, the session's cut or the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .content import content_for
from .conversation import PASSWORD, Conversation, Send
from .facts import Facts

__all__ = ["IDLE_REISSUE_S", "build_imap"]

IDLE_REISSUE_S = 29 * 60.0  # RFC 2177: end IDLE and issue it again at least every 29 minutes


def build_imap(conv: Conversation, trace: dict[str, Any], facts: Facts, end_s: float | None) -> None:
    """Fill ``conv`` with the IMAP dialogue of ``trace`` (``end_s``: when the run ends)."""
    t0, d, user = conv.start_s, conv.delay_s, conv.user
    rounds = list(trace.get("rounds") or ())
    idle = bool(trace.get("idle", True))
    conv.message_ids = [x[0] for r in rounds for x in r["fetches"]]
    tags = iter(f"a{k}" for k in range(1, 1 << 30))
    box = facts.delivered.get(user, [])

    def exists(at: float) -> int:
        return sum(1 for t, _ in box if t <= at)

    uid = {mid: i + 1 for i, (_, mid) in enumerate(box)}
    conv.say(t0 + 3 * d, "S", [f"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] {conv.server} IMAP ready"])
    tag = next(tags)
    conv.say(t0 + 4 * d, "C", [f"{tag} LOGIN {user} {PASSWORD}"])
    conv.say(t0 + 5 * d, "S", [f"{tag} OK LOGIN completed"])
    tag = next(tags)
    conv.say(t0 + 6 * d, "C", [f"{tag} SELECT INBOX"])
    n = exists(t0 + 8 * d)
    conv.say(t0 + 7 * d, "S", [f"* {n} EXISTS", r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
                               "* OK [UIDVALIDITY 1] UIDs valid", f"* OK [UIDNEXT {n + 1}] Predicted next UID",
                               f"{tag} OK [READ-WRITE] SELECT completed"])
    idle_tag = ""
    idle_since: float | None = None
    cut_at = trace.get("cut_at")
    horizon = float(cut_at) if cut_at is not None else end_s
    for i, rnd in enumerate(rounds):
        at, trigger = float(rnd["at"]), rnd["trigger"]
        ids = ",".join(x[0] for x in rnd["fetches"])
        if idle_since is not None:
            idle_tag = _reissue_idle(conv, idle_tag, idle_since, at, tags)
        t = at
        if trigger == "exists":
            conv.say(at, "S", [f"* {exists(at)} EXISTS"], ids)
            conv.say(at + d, "C", ["DONE"], ids)
            conv.say(at + 2 * d, "S", [f"{idle_tag} OK IDLE terminated"], ids)
            t = at + 3 * d
        elif trigger == "noop":
            tag = next(tags)
            conv.say(at, "C", [f"{tag} NOOP"], ids)
            conv.say(at + d, "S", [f"* {exists(at + d)} EXISTS", f"{tag} OK NOOP completed"], ids)
            t = at + 2 * d
        more = i + 1 < len(rounds) and rounds[i + 1]["trigger"] == "more"
        for j, (mid, size, requested, _, end) in enumerate(rnd["fetches"]):
            start = float(requested) + d  # the FETCH reaches the server
            tag = next(tags)
            conv.say(float(requested), "C", [f"{tag} UID FETCH {uid.get(mid, 0)} (FLAGS BODY[])"], ids)
            seq = uid.get(mid, 0)
            prefix = f"* {seq} FETCH (UID {seq} FLAGS (\\Seen) BODY[] {{{size}}}\r\n"
            news = f"* {exists(float(end))} EXISTS\r\n" if more and j == len(rnd["fetches"]) - 1 else ""
            suffix = f")\r\n{news}{tag} OK UID FETCH completed\r\n"
            content = content_for(facts, mid, int(size))
            conv.sends.append(Send(start, "S", prefix, ids, content, max(start, float(end)), suffix))
            t = float(end) + d
        if idle and not more:
            idle_tag = next(tags)
            conv.say(t, "C", [f"{idle_tag} IDLE"], ids)
            conv.say(t + d, "S", ["+ idling"], ids)
            idle_since = t
        else:
            idle_since = None
    if idle_since is not None and horizon is not None:
        _reissue_idle(conv, idle_tag, idle_since, horizon, tags)
    if cut_at is not None:
        conv.cut(float(cut_at))


def _reissue_idle(conv: Conversation, idle_tag: str, since: float, until: float, tags: Iterator[str]) -> str:
    """DONE and a new IDLE every 29 minutes while nothing else happens (RFC 2177); the last tag."""
    d = conv.delay_s
    t = since + IDLE_REISSUE_S
    while t + 3 * d < until:
        conv.say(t, "C", ["DONE"])
        conv.say(t + d, "S", [f"{idle_tag} OK IDLE terminated"])
        idle_tag = next(tags)
        conv.say(t + 2 * d, "C", [f"{idle_tag} IDLE"])
        conv.say(t + 3 * d, "S", ["+ idling"])
        t += IDLE_REISSUE_S
    return idle_tag
