"""Retrieval exchanges (POP3, IMAP, HTTP webmail): their round trips and transfers, timed exactly.

Each function is a generator run inside a POP3 or webmail device's process over a fixed ``path`` from the
user's node to the mailbox server; it calls ``got(message)`` at the moment the device holds the
whole of a message. Every command and its response cost one RTT; a message body costs one RTT
plus its transfer time ``T`` on the path (the request travels ``d`` to the server, the body is
pushed through the shared links, and its last byte arrives ``d`` later). All of them can be
interrupted by ``simpy.Interrupt`` when an outage cuts the session; a body being transferred
is then abandoned and the caller decides what the device does next.

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

Got = Callable[[Message], None]


Fetches = list[tuple[str, int, float, float, float]] | None  # (message id, bytes, request, data start, data end)


def start_fetch(net: Network, path: Path, message: Message, lead_s: float = 0.0) -> Flow:
    """The transfer of one FETCH/RETR/GET: after ``lead_s`` (exchanges that must come first and
    carry nothing, such as IDLE's EXISTS and DONE) the request travels d to the server, the body
    drains through the links, its last byte travels d back: one transfer, a lead-in and a tail. The
    body goes from the server to the device (``path`` runs from the device to the server)."""
    return net.transfer(path, message.wire_bytes, lead_s + path.delay_s, path.delay_s, backward=True)


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
        fetches.append((message.id, message.wire_bytes, requested, flow.started_s, flow.ended_s))
    got(message)


def round_trips(env: simpy.Environment, path: Path, count: float) -> simpy.Timeout:
    """``count`` command/response exchanges with nothing to transfer."""
    return env.timeout(count * path.rtt_s)


def pop3_session(
    env: simpy.Environment,
    net: Network,
    path: Path,
    select: Callable[[], tuple[Sequence[Message], int] | None],
    keep: bool,
    got: Got,
    trace: dict[str, Any] | None = None,
) -> Generator[Any, Any, bool]:
    """A POP3 session up to the moment QUIT reaches the server; False if the maildrop was locked.

    ``select()`` is called as PASS reaches the server (the maildrop is locked and its contents
    fixed then) and returns the messages to RETR and how many to DELE, or None when another
    session holds the lock (-ERR: the client sends QUIT).
    """
    fetches: Fetches = None
    if trace is not None:
        fetches = []
        trace.update(t0=env.now, delay_s=path.delay_s, keep=keep, locked=False, fetches=fetches, dele=0,
                     stat_count=0, quit_at=None)
    yield round_trips(env, path, 3.5)  # TCP, greeting, USER; PASS travels to the server
    plan = select()
    if plan is None:
        if trace is not None:
            trace["locked"] = True
        yield round_trips(env, path, 1.0)  # -ERR back to the client, QUIT to the server
        return False
    wanted, dele = plan
    if trace is not None:
        trace.update(dele=dele, stat_count=len(wanted))
    yield round_trips(env, path, 0.5 + 1 + (1 if keep else 0))  # PASS reply, STAT, UIDL
    for message in wanted:
        yield from fetch(env, net, path, message, got, fetches)
    yield round_trips(env, path, dele + 0.5)  # DELE each, then QUIT reaches the server
    if trace is not None:
        trace["quit_at"] = env.now
    return True


def http_poll(
    env: simpy.Environment,
    net: Network,
    path: Path,
    select: Callable[[], Sequence[Message]],
    got: Got,
    trace: dict[str, Any] | None = None,
) -> Generator[Any, Any, None]:
    """A webmail refresh: TCP, GET inbox (its contents fixed as the GET arrives), GET each new one."""
    fetches: Fetches = None
    if trace is not None:
        fetches = []
        trace.update(t0=env.now, delay_s=path.delay_s, fetches=fetches, inbox_count=0)
    yield round_trips(env, path, 1.5)
    wanted = select()
    if trace is not None:
        trace["inbox_count"] = len(wanted)
    yield round_trips(env, path, 0.5)
    for message in wanted:
        yield from fetch(env, net, path, message, got, fetches)
