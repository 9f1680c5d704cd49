"""SMTP sessions (RFC 5321) with PIPELINING (RFC 2920) and SIZE (RFC 1870), timed exactly.

With ``d`` the path's one-way delay, ``RTT = 2d`` and ``T`` the data transfer time, a session
starting at ``t0`` spends 1 RTT on the TCP handshake, 1 on the 220 greeting, 1 on EHLO, then
either 1 RTT for the pipelined MAIL/RCPT.../DATA group or ``2 + n`` RTT one command at a time,
then ``T`` pushing the data and ``d`` for its last byte to arrive: the server accepts at
``t0 + 4.5 RTT + T`` (pipelined) or ``t0 + (5.5 + n) RTT + T``. The client sees the 250 ``d``
later. The session returns at acceptance: the caller keeps the path cuttable until then (a
tail in the session registry), so an outage in that window still makes the client send again.
QUIT and 221 are not simulated: they change nothing the results record.

A message larger than the server's limit is refused with 552 in reply to MAIL FROM (known to
the client at ``t0 + 4 RTT`` either way); an unknown recipient gets 550 at its RCPT, and a
greylisted one 450 (a temporary failure for that recipient alone). An 8-bit text body moves as
it is when both ends speak 8BITMIME, and quoted-printable otherwise (its size on that hop). While
nothing can change its course the session is one transfer (the commands are its lead-in, the
last byte's trip its tail); it steps command by command only when a recipient is refused
without pipelining, so each refusal is reported when it happens. :func:`plain_exchange` starts
a session known to end in acceptance without any process (see :mod:`simulator.fast`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

import simpy

from ..message import Message
from ..network import Flow, Network, Path

OK = "250"
TOO_BIG = "552"


class Receiver(Protocol):
    """What a session needs of the receiving server."""

    max_message_size_bytes: int
    pipelining: bool
    eight_bit_mime: bool
    greylist: Any

    def rcpt_reply(self, rcpt: str, submission: bool, client: str, sender: str) -> str: ...

    def accept(self, message: Message, rcpts: tuple[str, ...], client: str) -> list[Any]: ...


class SessionResult:
    """How a session ended, as the client knows it when the call returns."""

    __slots__ = ("accepted", "ack_at_s", "cut", "deferred", "followups", "refused")

    def __init__(self) -> None:
        self.accepted: tuple[str, ...] = ()  # the server took responsibility for these (it sent 250)
        self.refused: list[tuple[str, str]] = []  # (recipient, reply code), permanent
        self.deferred: list[tuple[str, str]] = []  # (recipient, 4xx code), try again later
        self.cut = False  # an outage cut the session before the server accepted
        self.ack_at_s = 0.0  # when the client sees the 250 (d after the server accepted)
        self.followups: list[Any] = []  # the receiving server's new delivery jobs


def plain_exchange(
    net: Network,
    path: Path,
    server: Receiver,
    message: Message,
    rcpts: tuple[str, ...],
    client: str,
    submission: bool = False,
    eight_bit_client: bool = True,
) -> Flow | None:
    """Start a session whose outcome is known to be plain acceptance, as one transfer whose
    ``done`` fires when the server accepts (the timing of :func:`session`); None when it is not
    plain (an oversized message, a refused or greylisted recipient): use :func:`session`.
    The replies are worked out without side effects, so None commits to nothing."""
    if server.greylist is not None:
        return None
    size_bytes = message.wire_bytes
    if message.eight_bit:
        size_bytes = message.hop_bytes(eight_bit_client and server.eight_bit_mime)
    if size_bytes > server.max_message_size_bytes:
        return None
    sender = message.sender
    for rcpt in rcpts:
        if server.rcpt_reply(rcpt, submission, client, sender) != OK:
            return None
    return _whole_transaction(net, path, server, size_bytes, len(rcpts))


def _whole_transaction(net: Network, path: Path, server: Receiver, size_bytes: int, n_rcpts: int) -> Flow:
    """A transaction with nothing to report before the data: the handshake, greeting, EHLO and
    envelope commands (pipelined or not) are the lead-in of one transfer, whose tail is the
    last byte's trip to the server; ``done`` fires when the server can accept."""
    group_rtts = 1 if server.pipelining else 2 + n_rcpts
    return net.transfer(path, size_bytes, (3 + group_rtts) * path.rtt_s, path.delay_s)  # lead-in, tail


def session(
    env: simpy.Environment,
    net: Network,
    path: Path,
    server: Receiver,
    message: Message,
    rcpts: tuple[str, ...],
    client: str,
    on_refused: Callable[[str, str], None],
    submission: bool = False,
    eight_bit_client: bool = True,
    trace: dict[str, Any] | None = None,
) -> Generator[simpy.Event, Any, SessionResult]:
    """Run one SMTP transaction over ``path``; interruptible by ``simpy.Interrupt`` (an outage).

    ``submission`` marks a user agent submitting to its own server, which relays anywhere for it.
    ``on_refused(rcpt, code)`` is called at the moment the client learns of each permanent
    refusal. Returns when the server has accepted (or the client knows every refusal).
    """
    rtt = path.rtt_s
    result = SessionResult()
    flow: Flow | None = None
    size_bytes = message.hop_bytes(eight_bit_client and server.eight_bit_mime)
    replies: list[tuple[str, str]] = []
    if trace is not None:
        trace.update(t0=env.now, delay_s=path.delay_s, pipelining=server.pipelining, size_bytes=size_bytes,
                     body_8bit=message.eight_bit,
                     eight_bit=eight_bit_client and server.eight_bit_mime, limit_bytes=server.max_message_size_bytes,
                     rcpts=rcpts, replies=[], data_start=None, data_end=None, accepted_at=None, end=None, cut=False)
    try:
        if size_bytes > server.max_message_size_bytes:
            yield env.timeout(4 * rtt)  # TCP, greeting, EHLO, then MAIL FROM SIZE= -> 552
            for rcpt in rcpts:
                result.refused.append((rcpt, TOO_BIG))
                on_refused(rcpt, TOO_BIG)
            _close(trace, env, [(r, TOO_BIG) for r in rcpts])
            return result
        sender = message.sender
        if len(rcpts) == 1:
            code = server.rcpt_reply(rcpts[0], submission, client, sender)
            replies = [(rcpts[0], code)]
            accepted = rcpts if code == OK else ()
        else:
            replies = [(rcpt, server.rcpt_reply(rcpt, submission, client, sender)) for rcpt in rcpts]
            accepted = tuple([r for r, code in replies if code == OK])
        if len(accepted) == len(rcpts):
            # Nothing to report before the data: this process wakes once, when the server has it.
            flow = _whole_transaction(net, path, server, size_bytes, len(rcpts))
            if not flow.finished:
                yield flow.done
            return _accepted(env, path, server, message, accepted, client, result, flow, trace, replies)

        def answer(rcpt: str, code: str) -> None:
            if code == OK:
                return
            if code.startswith("4"):
                result.deferred.append((rcpt, code))
                return
            result.refused.append((rcpt, code))
            on_refused(rcpt, code)

        if server.pipelining:
            yield env.timeout(4 * rtt)
            for rcpt, code in replies:
                answer(rcpt, code)
        else:
            yield env.timeout(4 * rtt)  # through MAIL FROM
            for rcpt, code in replies:
                yield env.timeout(rtt)
                answer(rcpt, code)
            if accepted:
                yield env.timeout(rtt)  # DATA -> 354
        if not accepted:
            _close(trace, env, replies)
            return result
        flow = net.transfer(path, size_bytes, tail_s=path.delay_s)  # the data, then "." reaches the server
        if not flow.finished:
            yield flow.done
        return _accepted(env, path, server, message, accepted, client, result, flow, trace, replies)
    except simpy.Interrupt:
        if flow is not None:
            net.cancel(flow)
        result.cut = True
        if trace is not None:
            trace["cut"] = True
            _close(trace, env, replies)
        return result


def _accepted(
    env: simpy.Environment,
    path: Path,
    server: Receiver,
    message: Message,
    accepted: tuple[str, ...],
    client: str,
    result: SessionResult,
    flow: Flow,
    trace: dict[str, Any] | None,
    replies: list[tuple[str, str]],
) -> SessionResult:
    """The last byte and "." have reached the server: it accepts, and the 250 starts back."""
    result.followups = server.accept(message, accepted, client)
    result.accepted = accepted
    result.ack_at_s = env.now + path.delay_s  # the caller keeps the path cuttable until then
    if trace is not None:
        trace.update(data_start=flow.started_s, data_end=flow.ended_s, accepted_at=env.now)
        _close(trace, env, replies)
        trace["end"] = result.ack_at_s
    return result


def _close(trace: dict[str, Any] | None, env: simpy.Environment, replies: list[tuple[str, str]]) -> None:
    """Finish a session's trace: the replies each recipient got and when the client knew the outcome."""
    if trace is not None:
        trace["replies"] = list(replies)
        trace["end"] = env.now
