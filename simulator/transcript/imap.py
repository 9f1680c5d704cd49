"""An IMAP session as a conversation: the IMAP layout it was timed by, worded and placed.

The lines and their offsets are the IMAP stretches of :mod:`simulator.protocols.retrieval`: the
greeting, LOGIN and SELECT from the session's start, then the trace's rounds, each from its
``at_s``: a new message announced by ``* EXISTS`` while the client IDLEs (DONE, then the
fetches) or found by a NOOP poll; a UID FETCH at each fetch's ``requested_s`` with the message
data over the fetch's transfer; and IDLE again after the round's last response. An IDLE with
nothing to report is ended and issued again every 29 minutes (RFC 2177) until the next round,
the session's cut or the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..protocols import retrieval as layout
from ..protocols.dialogue import Line, lay_out
from ..protocols.trace import ImapTrace
from .content import content_for
from .conversation import PASSWORD, Conversation, Send
from .facts import Facts

__all__ = ["IDLE_REISSUE_S", "build_imap"]

IDLE_REISSUE_S = 29 * 60.0  # RFC 2177: end IDLE and issue it again at least every 29 minutes


def build_imap(conv: Conversation, trace: ImapTrace, facts: Facts, end_s: float | None) -> None:
    """Fill ``conv`` with the IMAP dialogue of ``trace`` (``end_s``: when the run ends)."""
    t0, d = conv.start_s, conv.delay_s
    rounds = trace.rounds
    conv.message_ids = [x.message_id for r in rounds for x in r.fetches]
    words = _Words(conv, facts)
    placed, selected_s = lay_out((layout.IMAP_CONNECT,), t0, d)
    words.exists_at = selected_s  # SELECT's EXISTS counts what has arrived as its reply reaches the client
    conv.say_placed(placed, words)
    idle_since: float | None = None
    horizon = trace.cut_s if trace.cut_s is not None else end_s
    for i, rnd in enumerate(rounds):
        at = rnd.at_s
        ids = ",".join(x.message_id for x in rnd.fetches)
        if idle_since is not None:
            _reissue_idle(conv, words, idle_since, at)
        t = at
        if rnd.trigger == "exists":
            words.exists_at = at
            placed, t = lay_out((layout.IMAP_EXISTS,), at, d)
            conv.say_placed(placed, words, ids)
        elif rnd.trigger == "noop":
            placed, t = lay_out((layout.IMAP_NOOP,), at, d)
            words.exists_at = placed[-1][0]  # the NOOP's EXISTS counts what has arrived as it is sent
            conv.say_placed(placed, words, ids)
        more = i + 1 < len(rounds) and rounds[i + 1].trigger == "more"
        for j, (mid, size, requested, _, end) in enumerate(rnd.fetches):
            start = requested + layout.FETCH_REQUEST_D * d  # the FETCH reaches the server
            tag = next(words.tags)
            seq = words.uid.get(mid, 0)
            conv.say(requested, "C", [f"{tag} UID FETCH {seq} (FLAGS BODY[])"], ids)
            prefix = f"* {seq} FETCH (UID {seq} FLAGS (\\Seen) BODY[] {{{size}}}\r\n"
            news = f"* {words.exists(end)} EXISTS\r\n" if more and j == len(rnd.fetches) - 1 else ""
            suffix = f")\r\n{news}{tag} OK UID FETCH completed\r\n"
            conv.sends.append(Send(start, "S", prefix, ids, content_for(facts, mid, size), max(start, end), suffix))
            t = end + layout.FETCH_TAIL_D * d
        if trace.idle and not more:
            conv.say_placed(lay_out((layout.IMAP_IDLE,), t, d)[0], words, ids)
            idle_since = t
        else:
            idle_since = None
    if idle_since is not None and horizon is not None:
        _reissue_idle(conv, words, idle_since, horizon)
    if trace.cut_s is not None:
        conv.cut(trace.cut_s)


def _reissue_idle(conv: Conversation, words: _Words, since: float, until: float) -> None:
    """DONE and a new IDLE every 29 minutes while nothing else happens (RFC 2177)."""
    t = since + IDLE_REISSUE_S
    while True:
        placed, _ = lay_out((layout.IMAP_REISSUE,), t, conv.delay_s)
        if not placed[-1][0] < until:
            return
        conv.say_placed(placed, words)
        t += IDLE_REISSUE_S


class _Words:
    """What each IMAP line says, for one session: its command tags and the mailbox as it grows."""

    def __init__(self, conv: Conversation, facts: Facts) -> None:
        self.conv = conv
        self.tags: Iterator[str] = iter(f"a{k}" for k in range(1, 1 << 30))
        self.idle_tag = ""  # the tag of the IDLE in progress
        self.tag = ""  # the tag of the command in progress
        self.box = facts.box(conv.user)
        self.uid = self.box.uid
        self.exists_at = 0.0  # the time an EXISTS being worded counts the mailbox at

    def exists(self, at_s: float) -> int:
        """How many messages the mailbox holds at ``at_s``."""
        return self.box.count(at_s)

    def __call__(self, line: Line) -> list[str]:
        says = line.says
        if says == "greeting":
            return [f"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] {self.conv.server} IMAP ready"]
        if says in ("login", "select", "noop"):
            self.tag = next(self.tags)
        if says == "login":
            return [f"{self.tag} LOGIN {self.conv.user} {PASSWORD}"]
        if says == "login_ok":
            return [f"{self.tag} OK LOGIN completed"]
        if says == "select":
            return [f"{self.tag} SELECT INBOX"]
        if says == "selected":
            n = self.exists(self.exists_at)
            return [f"* {n} EXISTS", r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)",
                    "* OK [UIDVALIDITY 1] UIDs valid", f"* OK [UIDNEXT {n + 1}] Predicted next UID",
                    f"{self.tag} OK [READ-WRITE] SELECT completed"]
        if says == "exists":
            return [f"* {self.exists(self.exists_at)} EXISTS"]
        if says == "noop":
            return [f"{self.tag} NOOP"]
        if says == "noop_reply":
            return [f"* {self.exists(self.exists_at)} EXISTS", f"{self.tag} OK NOOP completed"]
        if says == "done":
            return ["DONE"]
        if says == "idle_done":
            return [f"{self.idle_tag} OK IDLE terminated"]
        if says == "idle":
            self.idle_tag = next(self.tags)
            return [f"{self.idle_tag} IDLE"]
        if says == "idling":
            return ["+ idling"]
        raise ValueError(f"an IMAP layout line says {says!r}, which has no words")
