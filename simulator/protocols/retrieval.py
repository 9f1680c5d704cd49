"""Retrieval exchanges (POP3, IMAP, HTTP webmail): their dialogues and transfers, timed exactly.

Each dialogue is laid out here once, as :class:`~simulator.protocols.dialogue.Stretch` es in
one-way delays ``d``: the sessions wait for their lengths and the transcripts
(:mod:`simulator.transcript`) place their lines from the same anchors. Every command and its
response cost one RTT; a message body costs one RTT plus its transfer time ``T`` on the path
(the request travels ``d`` to the server, the body is pushed through the shared links, and its
last byte arrives ``d`` later): one transfer, a lead-in and a tail.

The POP3 and webmail exchanges are generators run inside a device's process over a fixed
``path`` from the user's node to the mailbox server; they call ``got(message)`` at the moment
the device holds the whole of a message. All of them can be interrupted by
``simpy.Interrupt`` when an outage cuts the session; a body being transferred is then
abandoned and the caller decides what the device does next.

- POP3 (RFC 1939): TCP, greeting, USER, PASS (the server locks the maildrop and fixes its
  contents as PASS arrives), STAT, UIDL when ``keep``, RETR for each new message, DELE for each
  (unless ``keep``), QUIT (deletions take effect as QUIT arrives). The first message is held
  at start + 6 RTT + T (7 RTT + T with ``keep``); each further RETR adds 1 RTT + its T.
- IMAP (RFC 9051), run by :mod:`simulator.imap` with the same transfers: connect is TCP,
  greeting, LOGIN, SELECT (4 RTT). In IDLE (RFC 2177), the server's EXISTS reaches the device
  ``d`` after delivery, DONE takes 1 RTT and FETCH 1 RTT + T: held at delivered_at + 2.5 RTT + T.
  Without IDLE, NOOP at each poll (1 RTT) then FETCH.
- HTTP webmail: TCP, GET inbox (1 RTT), GET each new message (1 RTT + T), keep-alive, no TLS:
  the first message is held at poll time + 3 RTT + T.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import simpy

from ..message import Message
from ..network import Flow, Network, Path
from .dialogue import HANDSHAKE_D, Line, Stretch
from .trace import Fetch, HttpTrace, Pop3Trace

# A fetch (RETR, UID FETCH, GET), anchored where its request leaves the client: the body starts
# as the request reaches the server, and its last byte reaches the client FETCH_TAIL_D after
# it left; the next command leaves then.
FETCH_REQUEST_D = 1
FETCH_TAIL_D = 1

# POP3. The first three stretches are anchored at the SYN; the opening ends as PASS reaches the
# server, which then locks the maildrop and fixes its contents (or finds it locked).
POP3_OPENING = Stretch((Line(HANDSHAKE_D, "S", "greeting"), Line(HANDSHAKE_D + 1, "C", "user"),
                        Line(HANDSHAKE_D + 2, "S", "user_ok"), Line(HANDSHAKE_D + 3, "C", "pass")), HANDSHAKE_D + 4)
# locked by another session: -ERR, QUIT; it ends as QUIT reaches the server (its sign-off)
POP3_LOCKED = Stretch((Line(POP3_OPENING.end_d, "S", "in_use"), Line(POP3_OPENING.end_d + 1, "C", "quit"),
                       Line(POP3_OPENING.end_d + 2, "S", "bye")), POP3_OPENING.end_d + 2)
# else +OK, STAT; the first RETR (or UIDL) leaves at its end
POP3_READY = Stretch((Line(POP3_OPENING.end_d, "S", "pass_ok"), Line(POP3_OPENING.end_d + 1, "C", "stat"),
                      Line(POP3_OPENING.end_d + 2, "S", "stat_reply")), POP3_OPENING.end_d + 3)
POP3_UIDL = Stretch((Line(0, "C", "uidl"), Line(1, "S", "uidl_reply")), 2)  # with keep, after READY
# after the last response (or READY/UIDL without fetches): DELE each, then QUIT, which ends the
# session as it reaches the server (deletions take effect, the server signs off)
POP3_DELE = Stretch((Line(0, "C", "dele"), Line(1, "S", "dele_reply")), 2)
POP3_QUIT = Stretch((Line(0, "C", "quit"), Line(1, "S", "signoff")), 1)

# HTTP webmail, anchored at the SYN: the client's ACK and GET leave as the SYN-ACK arrives; the
# server fixes the listing as the GET reaches it; the first message's GET leaves at the end.
HTTP_INBOX = Stretch((Line(HANDSHAKE_D - 1, "C", "inbox"), Line(HANDSHAKE_D, "S", "listing")), HANDSHAKE_D + 1)

# IMAP. Connect, anchored at the SYN: the first round of fetches starts at its end.
IMAP_CONNECT = Stretch((Line(HANDSHAKE_D, "S", "greeting"), Line(HANDSHAKE_D + 1, "C", "login"),
                        Line(HANDSHAKE_D + 2, "S", "login_ok"), Line(HANDSHAKE_D + 3, "C", "select"),
                        Line(HANDSHAKE_D + 4, "S", "selected")), HANDSHAKE_D + 5)
# New mail while idling, anchored at its delivery: EXISTS leaves the server then, DONE answers
# it, the IDLE's OK comes back; the FETCH leaves at the end (the fetch's lead-in).
IMAP_EXISTS = Stretch((Line(0, "S", "exists"), Line(1, "C", "done"), Line(2, "S", "idle_done")), 3)
# A poll without IDLE, anchored at the poll time: NOOP and its reply, then the fetches.
IMAP_NOOP = Stretch((Line(0, "C", "noop"), Line(1, "S", "noop_reply")), 2)
# After a round's last response: IDLE again; and every 29 minutes of nothing, DONE and a new IDLE.
IMAP_IDLE = Stretch((Line(0, "C", "idle"), Line(1, "S", "idling")), 2)
IMAP_REISSUE = Stretch((Line(0, "C", "done"), Line(1, "S", "idle_done"), Line(2, "C", "idle"),
                        Line(3, "S", "idling")), 4)

Got = Callable[[Message], None]


Fetches = list[Fetch] | None  # where a traced session records its fetches


def start_fetch(net: Network, path: Path, message: Message, lead_s: float = 0.0) -> Flow:
    """The transfer of one FETCH/RETR/GET: after ``lead_s`` (exchanges that must come first and
    carry nothing, such as IDLE's EXISTS and DONE) the request travels to the server, the body
    drains through the links, its last byte travels back: one transfer, a lead-in and a tail. The
    body goes from the server to the device (``path`` runs from the device to the server)."""
    delay_s = path.delay_s
    return net.transfer(path, message.wire_bytes, lead_s + FETCH_REQUEST_D * delay_s, FETCH_TAIL_D * delay_s,
                        backward=True)


def fetch(
    env: simpy.Environment,
    net: Network,
    path: Path,
    message: Message,
    got: Got,
    fetches: Fetches = None,
) -> Generator[Any, Any, None]:
    """One request for a message body and its response: 1 RTT + T. Calls ``got`` when held.

    ``fetches`` (when recording a trace) gets the request and data times of the exchange.
    """
    requested = env.now
    flow = start_fetch(net, path, message)
    try:
        if not flow.finished:
            yield flow.done
    except simpy.Interrupt:
        net.cancel(flow)
        raise
    if fetches is not None:
        fetches.append(Fetch(message.id, message.wire_bytes, float(requested), flow.started_s, flow.ended_s))
    got(message)


def delays(env: simpy.Environment, path: Path, count_d: int) -> simpy.Timeout:
    """``count_d`` one-way delays of dialogue with nothing to transfer."""
    return env.timeout(count_d * path.delay_s)


def pop3_session(
    env: simpy.Environment,
    net: Network,
    path: Path,
    select: Callable[[], tuple[Sequence[Message], int] | None],
    keep: bool,
    got: Got,
    trace: Pop3Trace | None = None,
) -> Generator[Any, Any, bool]:
    """A POP3 session up to the moment QUIT reaches the server; False if the maildrop was locked.

    ``select()`` is called as PASS reaches the server (the maildrop is locked and its contents
    fixed then) and returns the messages to RETR and how many to DELE, or None when another
    session holds the lock (-ERR: the client sends QUIT).
    """
    fetches: Fetches = None
    if trace is not None:
        fetches = trace.fetches
        trace.start_s, trace.delay_s, trace.keep = float(env.now), path.delay_s, keep
    yield delays(env, path, POP3_OPENING.end_d)  # TCP, greeting, USER; PASS travels to the server
    plan = select()
    if plan is None:
        if trace is not None:
            trace.locked = True
        yield delays(env, path, POP3_LOCKED.end_d - POP3_OPENING.end_d)  # -ERR back, QUIT to the server
        return False
    wanted, dele = plan
    if trace is not None:
        trace.dele, trace.stat_count = dele, len(wanted)
    # PASS reply, STAT (and UIDL): the first RETR leaves
    yield delays(env, path, POP3_READY.end_d - POP3_OPENING.end_d + (POP3_UIDL.end_d if keep else 0))
    for message in wanted:
        yield from fetch(env, net, path, message, got, fetches)
    yield delays(env, path, dele * POP3_DELE.end_d + POP3_QUIT.end_d)  # DELE each, then QUIT reaches the server
    if trace is not None:
        trace.quit_s = float(env.now)
    return True


def http_poll(
    env: simpy.Environment,
    net: Network,
    path: Path,
    select: Callable[[], Sequence[Message]],
    got: Got,
    trace: HttpTrace | None = None,
) -> Generator[Any, Any, None]:
    """A webmail refresh: TCP, GET inbox (its contents fixed as the GET arrives), GET each new one."""
    fetches: Fetches = None
    if trace is not None:
        fetches = trace.fetches
        trace.start_s, trace.delay_s = float(env.now), path.delay_s
    listed_d = HTTP_INBOX.at_d("listing")
    yield delays(env, path, listed_d)
    wanted = select()
    yield delays(env, path, HTTP_INBOX.end_d - listed_d)
    for message in wanted:
        yield from fetch(env, net, path, message, got, fetches)
