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

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..eventlog import Record
from .content import Content, content_for, domain_of, mail_date
from .conversation import PASSWORD, Conversation, Send, all_nodes, node_addresses
from .facts import Facts, MessageFacts
from .replies import rcpt_reply

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

PORTS = {"smtp": 25, "submission": 587, "pop3": 110, "imap": 143, "http": 80}
IDLE_REISSUE_S = 29 * 60.0  # RFC 2177: end IDLE and issue it again at least every 29 minutes
EPHEMERAL_FIRST, EPHEMERAL_COUNT = 49152, 16384


class _Builder:
    """Turns traces into conversations (one pass, in trace order)."""

    def __init__(self, facts: Facts, scenario: Any = None, end_s: float | None = None) -> None:
        self.facts = facts
        self.end_s = end_s
        self.servers = dict(getattr(scenario, "servers", {}) or {})
        self.home = scenario.domains() if scenario is not None else {}
        self.ports: dict[tuple[str, str, int], int] = {}
        self.owed: dict[tuple[str, int], list[tuple[str, int]]] = {}  # POP3 device -> held, not deleted

    def build(self, trace: dict[str, Any]) -> Conversation:
        protocol = trace["protocol"]
        conv = Conversation(
            seq=trace["seq"], protocol=protocol, client=trace["client"], server=trace["server"],
            port=PORTS[protocol], delay_s=float(trace.get("delay_s", 0.0)), start_s=float(trace["t0"]),
            user=trace.get("user", ""), device=int(trace.get("device", 0) or 0),
        )
        key = (conv.client, conv.server, conv.port)
        n = self.ports.get(key, 0)
        self.ports[key] = n + 1
        conv.client_port = EPHEMERAL_FIRST + n % EPHEMERAL_COUNT
        conv.end_s = conv.start_s
        if protocol in ("smtp", "submission"):
            self._smtp(conv, trace)
        elif protocol == "pop3":
            self._pop3(conv, trace)
        elif protocol == "imap":
            self._imap(conv, trace)
        else:
            self._http(conv, trace)
        conv.end_s = max([conv.end_s, *(s.until_s or s.time_s for s in conv.sends), *(t for t, _, _ in conv.notes)])
        conv.about = [(m, self.facts.get(m).about) for m in conv.message_ids if self.facts.get(m).about]
        return conv

    # ---- SMTP ---------------------------------------------------------------------------------

    def _ehlo_name(self, node: str) -> str:
        return node if "." in node else f"[{node}]"

    def _smtp(self, conv: Conversation, trace: dict[str, Any]) -> None:
        mid = trace.get("message_id", "")
        conv.message_ids = [mid] if mid else []
        f = self.facts.get(mid)
        t0, d, server = conv.start_s, conv.delay_s, conv.server
        if trace.get("connect_failed"):
            timeout = float(trace.get("timeout_s", 30.0))
            conv.connect_failed = True
            conv.note(t0, f"SYN to {server} port {conv.port}: no answer", mid)
            conv.note(t0 + timeout, f"connect timed out after {timeout:g} s", mid)
            conv.end_s = t0 + timeout
            return
        spec = self.servers.get(server)
        eight_bit_mime = bool(getattr(spec, "eight_bit_mime", trace.get("eight_bit", True)))
        pipelining = bool(trace.get("pipelining", True))
        rcpts = tuple(trace.get("rcpts", ()))
        replies = dict(trace.get("replies") or [])
        codes = [replies.get(r, "250") for r in rcpts]
        size = int(trace.get("size_bytes", f.wire_bytes))
        conv.say(t0 + 3 * d, "S", [f"220 {server} ESMTP mailsim"], mid)
        conv.say(t0 + 4 * d, "C", [f"EHLO {self._ehlo_name(conv.client)}"], mid)
        ext = [server] + (["PIPELINING"] if pipelining else []) + [f"SIZE {trace.get('limit_bytes', 10240000)}"]
        ext += (["8BITMIME"] if eight_bit_mime else []) + ["ENHANCEDSTATUSCODES"]
        conv.say(t0 + 5 * d, "S", [f"250-{e}" for e in ext[:-1]] + [f"250 {ext[-1]}"], mid)
        body = " BODY=8BITMIME" if f.eight_bit and trace.get("eight_bit") else ""
        mail = f"MAIL FROM:<{f.sender}> SIZE={size}{body}"
        too_big = size > int(trace.get("limit_bytes", size))
        mail_reply = "552 5.3.4 Message size exceeds fixed limit" if too_big else "250 2.1.0 Ok"
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
            received = self._received(f) if not f.is_dsn else ""
            content = content_for(self.facts, mid, size, bool(trace.get("eight_bit")), received)
            until = None if data_end is None else max(data_at, float(data_end))
            conv.sends.append(Send(data_at, "C", "", mid, content, until, ".\r\n"))
        end = float(trace["end"]) if trace.get("end") is not None else t0 + 8 * d
        if trace.get("accepted_at") is not None:
            accepted_at = float(trace["accepted_at"])
            qid = hashlib.sha1(f"{server} {mid} {t0!r}".encode()).hexdigest()[:10].upper()
            conv.say(accepted_at, "S", [f"250 2.0.0 Ok: queued as {qid}"], mid)
            lost = [t for t in self.facts.tail_cuts.get((mid, conv.client), ()) if accepted_at <= t <= end]
            if lost:  # an outage cut the session while the 250 was on its way back
                conv.cut(lost[0])
                return
        if trace.get("cut"):
            conv.cut(end)
            return
        conv.say(end, "C", ["QUIT"], mid)
        conv.say(end + d, "S", ["221 2.0.0 Bye"], mid)
        conv.close("S", end + d)

    def _received(self, f: MessageFacts) -> str:
        home = self.home.get(domain_of(f.author), "")
        if not home or not f.node:
            return ""
        return f"Received: from {self._ehlo_name(f.node)} by {home} with ESMTP id {f.id};\r\n {mail_date(f.created_s)}"

    # ---- POP3 ---------------------------------------------------------------------------------

    def _pop3(self, conv: Conversation, trace: dict[str, Any]) -> None:
        t0, d, user = conv.start_s, conv.delay_s, conv.user
        fetches = list(trace.get("fetches") or ())
        conv.message_ids = [x[0] for x in fetches]
        device = (user, conv.device)
        owed = self.owed.get(device, [])
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
        sizes = {mid: self.facts.get(mid).wire_bytes for mid in conv.message_ids}
        sizes.update({x[0]: int(x[1]) for x in fetches})
        if keep:
            drop = self.facts.mailbox(user, t0 + 7 * d)
            number = {mid: i + 1 for i, mid in enumerate(drop)}
        else:
            drop = [mid for mid, _ in owed] + conv.message_ids
            sizes.update(dict(owed))
            number = {mid: i + 1 for i, mid in enumerate(drop)}
        count = len(drop) if keep else max(len(drop), int(trace.get("dele", 0) or 0))
        octets = sum(sizes.get(mid, self.facts.get(mid).wire_bytes) for mid in drop)
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
            content = content_for(self.facts, mid, int(size))
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
            self.owed[device] = [*owed, *((x[0], int(x[1])) for x in fetches)] if not keep else []
            conv.cut(float(trace["cut_at"]))
            return
        self.owed[device] = []
        end = float(quit_at) if quit_at is not None else t + d
        conv.say(end, "S", [f"+OK POP3 {conv.server} signing off"])
        conv.close("S", end)

    # ---- IMAP ---------------------------------------------------------------------------------

    def _imap(self, conv: Conversation, trace: dict[str, Any]) -> None:
        t0, d, user = conv.start_s, conv.delay_s, conv.user
        rounds = list(trace.get("rounds") or ())
        idle = bool(trace.get("idle", True))
        conv.message_ids = [x[0] for r in rounds for x in r["fetches"]]
        tags = iter(f"a{k}" for k in range(1, 1 << 30))
        box = self.facts.delivered.get(user, [])

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
        horizon = float(cut_at) if cut_at is not None else self.end_s
        for i, rnd in enumerate(rounds):
            at, trigger = float(rnd["at"]), rnd["trigger"]
            ids = ",".join(x[0] for x in rnd["fetches"])
            if idle_since is not None:
                idle_tag = self._reissue_idle(conv, idle_tag, idle_since, at, tags)
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
                content = content_for(self.facts, mid, int(size))
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
            self._reissue_idle(conv, idle_tag, idle_since, horizon, tags)
        if cut_at is not None:
            conv.cut(float(cut_at))

    def _reissue_idle(self, conv: Conversation, idle_tag: str, since: float, until: float, tags: Iterator[str]) -> str:
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

    # ---- HTTP webmail -------------------------------------------------------------------------

    def _http(self, conv: Conversation, trace: dict[str, Any]) -> None:
        t0, d, host = conv.start_s, conv.delay_s, conv.server
        fetches = list(trace.get("fetches") or ())
        conv.message_ids = [x[0] for x in fetches]
        conv.say(t0 + 2 * d, "C", ["GET /api/inbox?unread=1 HTTP/1.1", f"Host: {host}",
                                   "Accept: application/json", "Connection: keep-alive", ""])
        listing = json.dumps({"user": conv.user, "new": [{"id": x[0], "size": int(x[1])} for x in fetches]},
                             separators=(",", ":"))
        conv.sends.append(Send(t0 + 3 * d, "S", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {len(listing)}\r\n\r\n{listing}"))
        t = t0 + 4 * d
        for mid, size, requested, _, end in fetches:
            start = float(requested) + d  # the GET reaches the server
            conv.say(float(requested), "C", [f"GET /api/messages/{mid} HTTP/1.1", f"Host: {host}",
                                             "Accept: message/rfc822", "Connection: keep-alive", ""], mid)
            prefix = f"HTTP/1.1 200 OK\r\nContent-Type: message/rfc822\r\nContent-Length: {size}\r\n\r\n"
            conv.sends.append(Send(start, "S", prefix, mid, content_for(self.facts, mid, int(size)),
                                   max(start, float(end))))
            t = float(end) + d
        if trace.get("cut_at") is not None:
            conv.cut(float(trace["cut_at"]))
            return
        conv.close("C", t)


def build_conversations(
    traces: Sequence[dict[str, Any]],
    records: Sequence[Record],
    scenario: Any = None,
    end_s: float | None = None,
    only: Iterable[str] | None = None,
) -> list[Conversation]:
    """Every traced session as a conversation, in the order sessions started; with ``only``,
    the retrieval sessions that moved none of those messages are left out."""
    facts = Facts(records, traces, scenario)
    builder = _Builder(facts, scenario, end_s)
    conversations = [builder.build(t) for t in sorted(traces, key=lambda t: t["seq"])]
    if only is not None:
        wanted = set(only)
        conversations = [c for c in conversations if wanted.intersection(c.message_ids)
                         or (c.protocol in ("smtp", "submission") and c.connect_failed)]
    conversations.sort(key=lambda c: (c.start_s, c.seq))
    return conversations


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
