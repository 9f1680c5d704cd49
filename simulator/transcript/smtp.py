"""An SMTP or submission session as a conversation, timed by its trace.

With ``d`` the path's one-way delay, a session starting at ``t0`` (SYN) has the server's 220
at ``t0 + 3d`` (when the handshake's last ACK arrives), EHLO at ``t0 + 4d``, the pipelined
MAIL/RCPT/DATA group at ``t0 + 6d`` (each command and its reply a round trip apart without
PIPELINING), the data from the 354's arrival until ``d`` before the server's ``250 ... queued
as`` at ``accepted_at`` (the event log's ``accepted``), and QUIT at ``end`` (the ``sent``
event). The replies follow the trace: SIZE over the server's limit, refused recipients, no
8BITMIME (the body goes quoted-printable), a connect that times out, an outage's cut.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .content import content_for, domain_of, mail_date
from .conversation import Conversation, Send
from .facts import Facts, MessageFacts
from .replies import rcpt_reply, reply_line

__all__ = ["build_smtp"]


def _ehlo_name(node: str) -> str:
    return node if "." in node else f"[{node}]"


def build_smtp(conv: Conversation, trace: dict[str, Any], facts: Facts, servers: dict[str, Any],
               home_server: dict[str, str]) -> None:
    """Fill ``conv`` with the SMTP dialogue of ``trace`` (``servers``: the scenario's server specs;
    ``home_server``: the server holding each domain's mailboxes)."""
    mid = trace.get("message_id", "")
    conv.message_ids = [mid] if mid else []
    f = facts.get(mid)
    t0, d, server = conv.start_s, conv.delay_s, conv.server
    if trace.get("connect_failed"):
        timeout = float(trace.get("timeout_s", 30.0))
        conv.connect_failed = True
        conv.note(t0, f"SYN to {server} port {conv.port}: no answer", mid)
        conv.note(t0 + timeout, f"connect timed out after {timeout:g} s", mid)
        conv.end_s = t0 + timeout
        return
    spec = servers.get(server)
    eight_bit_mime = bool(getattr(spec, "eight_bit_mime", trace.get("eight_bit", True)))
    pipelining = bool(trace.get("pipelining", True))
    rcpts = tuple(trace.get("rcpts", ()))
    replies = dict(trace.get("replies") or [])
    codes = [replies.get(r, "250") for r in rcpts]
    size = int(trace.get("size_bytes", f.wire_bytes))
    conv.say(t0 + 3 * d, "S", [f"220 {server} ESMTP mailsim"], mid)
    conv.say(t0 + 4 * d, "C", [f"EHLO {_ehlo_name(conv.client)}"], mid)
    ext = [server] + (["PIPELINING"] if pipelining else []) + [f"SIZE {trace.get('limit_bytes', 10240000)}"]
    ext += (["8BITMIME"] if eight_bit_mime else []) + ["ENHANCEDSTATUSCODES"]
    conv.say(t0 + 5 * d, "S", [f"250-{e}" for e in ext[:-1]] + [f"250 {ext[-1]}"], mid)
    body = " BODY=8BITMIME" if f.eight_bit and trace.get("eight_bit") else ""
    mail = f"MAIL FROM:<{f.sender}> SIZE={size}{body}"
    too_big = size > int(trace.get("limit_bytes", size))
    mail_reply = reply_line("552") if too_big else "250 2.1.0 Ok"
    rcpt_replies = ["503 5.5.1 Error: need MAIL command" if too_big else rcpt_reply(r, c)
                    for r, c in zip(rcpts, codes, strict=True)]
    any_ok = not too_big and "250" in codes
    data_reply = "354 End data with <CR><LF>.<CR><LF>" if any_ok else "554 5.5.1 Error: no valid recipients"
    data_at = t0 + 8 * d  # when the 354 reaches the client and the data starts
    if pipelining:
        conv.say(t0 + 6 * d, "C", [mail, *(f"RCPT TO:<{r}>" for r in rcpts), "DATA"], mid)
        conv.say(t0 + 7 * d, "S", [mail_reply, *rcpt_replies, data_reply], mid)
    else:
        conv.say(t0 + 6 * d, "C", [mail], mid)
        conv.say(t0 + 7 * d, "S", [mail_reply], mid)
        if not too_big:
            t = t0 + 8 * d
            for r, reply in zip(rcpts, rcpt_replies, strict=True):
                conv.say(t, "C", [f"RCPT TO:<{r}>"], mid)
                conv.say(t + d, "S", [reply], mid)
                t += 2 * d
            if any_ok:
                conv.say(t, "C", ["DATA"], mid)
                conv.say(t + d, "S", [data_reply], mid)
                data_at = t + 2 * d
    accepted = trace.get("accepted_at")
    if any_ok and (accepted is not None or trace.get("cut")):
        # the data leaves from data_at; its last byte leaves d before the server accepts
        data_end = float(accepted) - d if accepted is not None else trace.get("data_end")
        received = _received(facts.get(facts.content_source(mid)), home_server) if not f.is_dsn else ""
        content = content_for(facts, mid, size, bool(trace.get("eight_bit")), received)
        until = None if data_end is None else max(data_at, float(data_end))
        conv.sends.append(Send(data_at, "C", "", mid, content, until, ".\r\n"))
    end = float(trace["end"]) if trace.get("end") is not None else t0 + 8 * d
    if trace.get("accepted_at") is not None:
        accepted_at = float(trace["accepted_at"])
        qid = hashlib.sha1(f"{server} {mid} {t0!r}".encode()).hexdigest()[:10].upper()
        conv.say(accepted_at, "S", [f"250 2.0.0 Ok: queued as {qid}"], mid)
        lost = [t for t in facts.tail_cuts.get((mid, conv.client), ()) if accepted_at <= t <= end]
        if lost:  # an outage cut the session while the 250 was on its way back
            conv.cut(lost[0])
            return
    if trace.get("cut"):
        conv.cut(end)
        return
    conv.say(end, "C", ["QUIT"], mid)
    conv.say(end + d, "S", ["221 2.0.0 Bye"], mid)
    conv.close("S", end + d)


def _received(f: MessageFacts, home_server: dict[str, str]) -> str:
    """The Received header the author's home server adds on accepting the message from its client
    ("" without a home server or a node the message was created on)."""
    home = home_server.get(domain_of(f.author), "")
    if not home or not f.node:
        return ""
    return f"Received: from {_ehlo_name(f.node)} by {home} with ESMTP id {f.id};\r\n {mail_date(f.created_s)}"
