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
it is when both ends speak 8BITMIME, and quoted-printable otherwise (its size on that hop).

This module says what a session is, as data: :func:`plan` asks the server its replies when the
session opens and returns the :class:`Plan`: the waits before each reply reaches the client and
the transfer (its lead-in and tail). While nothing can change its course the session is one
transfer (the commands are its lead-in, the last byte's trip its tail); it steps command by
command only when a recipient is refused without pipelining, so each refusal is reported when it
happens. :mod:`simulator.exchange` runs a plan over the network.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from ..message import Message
from ..network import Path

OK = "250"
TOO_BIG = "552"


class Receiver(Protocol):
    """What a session needs of the receiving server."""

    max_message_size_bytes: int
    pipelining: bool
    eight_bit_mime: bool
    greylist: Any
    inbound: Any  # its open inbound sessions (a simulator.binning.LevelSeries)

    def rcpt_reply(self, rcpt: str, submission: bool, client: str, sender: str) -> str: ...

    def accept(self, message: Message, rcpts: tuple[str, ...], client: str) -> list[Any]: ...


NO_STEPS: list[tuple[float, list[tuple[str, str]]]] = []  # shared, never changed: a session of one transfer


class Plan(NamedTuple):
    """The course of one session, fixed when it opens.

    ``steps`` are the waits, in order, each followed by the replies the client learns then (a
    list of (recipient, code)); then, if ``accepted`` is not empty, the data moves: a transfer of
    ``size_bytes`` with lead-in ``lead_in_s`` whose tail is the last byte's trip to the server,
    at the end of which the server accepts.
    """

    size_bytes: int
    replies: list[tuple[str, str]]  # every recipient's reply (empty when the message was too big)
    accepted: tuple[str, ...]
    too_big: bool
    steps: list[tuple[float, list[tuple[str, str]]]]
    lead_in_s: float


def plan(
    path: Path,
    server: Receiver,
    message: Message,
    rcpts: tuple[str, ...],
    client: str,
    submission: bool = False,
    eight_bit_client: bool = True,
) -> Plan:
    """The session's course, asking ``server`` its reply to each RCPT now (greylisting learns)."""
    rtt = path.rtt_s
    size_bytes = message.wire_bytes
    if message.eight_bit:
        size_bytes = message.hop_bytes(eight_bit_client and server.eight_bit_mime)
    if size_bytes > server.max_message_size_bytes:
        # TCP, greeting, EHLO, then MAIL FROM SIZE= -> 552 for every recipient
        return Plan(size_bytes, [], (), True, [(4 * rtt, [(r, TOO_BIG) for r in rcpts])], 0.0)
    sender = message.sender
    accepted: tuple[str, ...]
    if len(rcpts) == 1:
        code = server.rcpt_reply(rcpts[0], submission, client, sender)
        replies = [(rcpts[0], code)]
        accepted = rcpts if code == OK else ()
    else:
        replies = [(rcpt, server.rcpt_reply(rcpt, submission, client, sender)) for rcpt in rcpts]
        accepted = tuple([r for r, code in replies if code == OK])
    if len(accepted) == len(rcpts):
        # Nothing to report before the data: the handshake, greeting, EHLO and envelope commands
        # (pipelined or not) are the lead-in of the one transfer.
        group_rtts = 1 if server.pipelining else 2 + len(rcpts)
        return Plan(size_bytes, replies, accepted, False, NO_STEPS, (3 + group_rtts) * rtt)
    if server.pipelining:
        steps = [(4 * rtt, replies)]
    else:  # through MAIL FROM, then one RCPT at a time, then DATA -> 354
        steps = [(4 * rtt, [])] + [(rtt, [reply]) for reply in replies]
        if accepted:
            steps.append((rtt, []))
    return Plan(size_bytes, replies, accepted, False, steps, 0.0)
