"""An SMTP or submission session as a conversation: the layout it was timed by, worded and placed.

The lines and their offsets are the session's dialogue layout (:func:`simulator.protocols.smtp.layout`:
TCP, the 220 greeting, EHLO, the pipelined MAIL/RCPT/DATA group or each command a round trip
apart), anchored at the session's start (SYN) as the session's own waits were; lines sent
together in one stretch at one moment (a pipelined group, its replies) are one send. What only
the running session knew comes from its :class:`~simulator.protocols.trace.SmtpTrace`: the
server's replies (SIZE over the limit, refused recipients, no 8BITMIME so the body goes
quoted-printable), the data moving until its last byte leaves ``d`` before the server's
``250 ... queued as`` at ``accepted_s`` (the event log's ``accepted``), QUIT when the client knew
how it went (``end_s``), a connect that timed out, an outage's cut, and a capacity limit's
refusal (a 421 in place of the 220, a 452 to MAIL, a 450 to each RCPT).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..protocols import smtp
from ..protocols.dialogue import Line, lay_out
from ..protocols.trace import SmtpTrace
from .content import content_for, domain_of, mail_date
from .conversation import Conversation, Send
from .facts import Facts, MessageFacts
from .replies import rcpt_reply, reply_line

__all__ = ["build_smtp"]


def _ehlo_name(node: str) -> str:
    return node if "." in node else f"[{node}]"


def build_smtp(conv: Conversation, trace: SmtpTrace, facts: Facts, servers: dict[str, Any],
               home_server: dict[str, str]) -> None:
    """Fill ``conv`` with the SMTP dialogue of ``trace`` (``servers``: the scenario's server specs;
    ``home_server``: the server holding each domain's mailboxes)."""
    mid = trace.message_id
    conv.message_ids = [mid] if mid else []
    f = facts.get(mid)
    t0, d, server = conv.start_s, conv.delay_s, conv.server
    if trace.connect_timeout_s is not None:
        timeout = trace.connect_timeout_s
        conv.connect_failed = True
        conv.note(t0, f"SYN to {server} port {conv.port}: no answer", mid)
        conv.note(t0 + timeout, f"connect timed out after {timeout:g} s", mid)
        conv.end_s = t0 + timeout
        return
    rcpts = trace.rcpts
    replies = dict(trace.replies)
    codes = [replies.get(r, smtp.OK) for r in rcpts]
    size = trace.size_bytes
    words = _Words(trace, f, servers.get(server), conv.client, codes, size > trace.limit_bytes)
    if trace.refusal_stage == "greeting":  # the server closes after its 421
        placed, _ = lay_out(smtp.REFUSED_AT_GREETING.stretches, t0, d)
        conv.say_placed(placed, words, mid)
        conv.close("S", placed[-1][0])
        return
    too_big = words.too_big
    dialogue = smtp.layout(trace.pipelining, len(rcpts), not too_big, not too_big and smtp.OK in codes)
    placed, data_at = lay_out(dialogue.stretches, t0, d)
    conv.say_placed(placed, words, mid)
    accepted = trace.accepted_s
    if dialogue.data and (accepted is not None or trace.cut_s is not None):
        # the data leaves from data_at; its last byte leaves DATA_TAIL_D before the server accepts
        data_end = accepted - smtp.DATA_TAIL_D * d if accepted is not None else trace.data_end_s
        received = _received(facts.get(facts.content_source(mid)), home_server) if not f.is_dsn else ""
        content = content_for(facts, mid, size, trace.eight_bit, received)
        until = None if data_end is None else max(data_at, data_end)
        conv.sends.append(Send(data_at, "C", "", mid, content, until, ".\r\n"))
    # a session the run's end left open shows as far as the envelope's replies
    end = trace.end_s if trace.end_s is not None else t0 + dialogue.stretches[0].end_d * d
    if accepted is not None:
        qid = hashlib.sha1(f"{server} {mid} {t0!r}".encode()).hexdigest()[:10].upper()
        for at_s, _ in lay_out((smtp.ACCEPTED,), accepted, d)[0]:
            conv.say(at_s, "S", [f"250 2.0.0 Ok: queued as {qid}"], mid)
        lost = [t for t in facts.tail_cuts.get((mid, conv.client), ()) if accepted <= t <= end]
        if lost:  # an outage cut the session while the 250 was on its way back
            conv.cut(lost[0])
            return
    if trace.cut_s is not None:
        conv.cut(end)
        return
    closing, _ = lay_out((smtp.CLOSING,), end, d)
    conv.say_placed(closing, words, mid)
    conv.close("S", closing[-1][0])


class _Words:
    """What each line of a session's layout says, as the trace's facts word it."""

    def __init__(self, trace: SmtpTrace, f: MessageFacts, spec: Any, client: str, codes: list[str],
                 too_big: bool) -> None:
        self.trace, self.f, self.client, self.codes = trace, f, client, codes
        self.mail_refused = trace.refusal_stage == "mail"  # 452: the queue is full
        self.too_big = too_big or self.mail_refused  # either way MAIL is refused and no RCPT taken
        self.eight_bit_mime = bool(getattr(spec, "eight_bit_mime", trace.eight_bit))

    def __call__(self, line: Line) -> list[str]:
        trace, server = self.trace, self.trace.server
        says = line.says
        if says == "greeting":
            return [trace.refusal_reply if trace.refusal_stage == "greeting" else f"220 {server} ESMTP mailsim"]
        if says == "ehlo":
            return [f"EHLO {_ehlo_name(self.client)}"]
        if says == "ehlo_reply":
            ext = [server] + (["PIPELINING"] if trace.pipelining else []) + [f"SIZE {trace.limit_bytes}"]
            ext += (["8BITMIME"] if self.eight_bit_mime else []) + ["ENHANCEDSTATUSCODES"]
            return [f"250-{e}" for e in ext[:-1]] + [f"250 {ext[-1]}"]
        if says == "mail":
            body = " BODY=8BITMIME" if self.f.eight_bit and trace.eight_bit else ""
            return [f"MAIL FROM:<{self.f.sender}> SIZE={trace.size_bytes}{body}"]
        if says == "mail_reply":
            if self.mail_refused:
                return [trace.refusal_reply]
            return [reply_line(smtp.TOO_BIG) if self.too_big else "250 2.1.0 Ok"]
        if says == "rcpt":
            return [f"RCPT TO:<{trace.rcpts[line.rcpt]}>"]
        if says == "rcpt_reply":
            if self.too_big:
                return ["503 5.5.1 Error: need MAIL command"]
            rcpt, code = trace.rcpts[line.rcpt], self.codes[line.rcpt]
            if trace.refusal_stage == "rcpt":  # the limit's 450, naming the recipient
                status_text = trace.refusal_reply.split(" ", 1)[1]
                return [f"{code} {status_text.replace(' ', f' <{rcpt}>: ', 1)}"]
            return [rcpt_reply(rcpt, code)]
        if says == "data":
            return ["DATA"]
        if says == "data_reply":
            if not self.too_big and smtp.OK in self.codes:
                return ["354 End data with <CR><LF>.<CR><LF>"]
            return ["554 5.5.1 Error: no valid recipients"]
        if says == "quit":
            return ["QUIT"]
        if says == "bye":
            return ["221 2.0.0 Bye"]
        raise ValueError(f"an SMTP layout line says {says!r}, which has no words")


def _received(f: MessageFacts, home_server: dict[str, str]) -> str:
    """The Received header the author's home server adds on accepting the message from its client
    ("" without a home server or a node the message was created on)."""
    home = home_server.get(domain_of(f.author), "")
    if not home or not f.node:
        return ""
    return f"Received: from {_ehlo_name(f.node)} by {home} with ESMTP id {f.id};\r\n {mail_date(f.created_s)}"
