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
A server with capacity limits (:mod:`simulator.admission`) may refuse the session: a 421 instead
of the greeting (known to the client at ``t0 + 2 RTT``), a 452 to MAIL FROM (``t0 + 4 RTT``, as a
552) or a 450 to every RCPT.

This module says what a session is, as data. :func:`layout` is the dialogue: every command and
reply with its offset in one-way delays (:mod:`simulator.protocols.dialogue`), in stretches the
client cannot leave early, and after each stretch the recipients whose fate the client then
knows. :func:`plan` asks the server its replies when the session opens and reads the layout for
the :class:`Plan`: the waits before the client learns of refusals, and the transfer (its
lead-in, all the stretches at once, and its tail). While nothing can change its course the
session is one transfer (the commands are its lead-in, the last byte's trip its tail); it steps
stretch by stretch only when a recipient is refused, so each refusal is reported when it
happens. :mod:`simulator.exchange` runs a plan over the network; :mod:`simulator.transcript.smtp`
words the same layout, placed from what the session recorded.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple, Protocol

from ..message import Message
from ..network import Path
from .dialogue import HANDSHAKE_D, Line, Stretch, span_d

OK = "250"
TOO_BIG = "552"


class Receiver(Protocol):
    """What a session needs of the receiving server."""

    max_message_size_bytes: int
    pipelining: bool
    eight_bit_mime: bool
    greylist: Any
    admission: Any  # its inbound limits (simulator.admission), or None
    inbound: Any  # its open inbound sessions (a simulator.binning.LevelSeries)

    def rcpt_reply(self, rcpt: str, submission: bool, client: str, sender: str) -> str: ...

    def accept(self, message: Message, rcpts: tuple[str, ...], client: str) -> list[Any]: ...


NO_STEPS: list[tuple[float, list[tuple[str, str]]]] = []  # shared, never changed: a session of one transfer

# The server's 250 for the data: sent as the last byte and "." reach it; the client has it one
# delay later (the end of the session as far as the results go).
ACCEPTED = Stretch((Line(0, "S", "queued"),), 1)
ACK_D = ACCEPTED.end_d
DATA_TAIL_D = 1  # the last byte's trip: the server accepts this long after it left the client
# QUIT and 221, from the moment the client knows how the session went (not simulated: they
# change nothing the results record).
CLOSING = Stretch((Line(0, "C", "quit"), Line(1, "S", "bye")), 1)


class Layout(NamedTuple):
    """A session's dialogue up to its data: ``stretches`` in order (each anchored where the one
    before ends, the first at the SYN); ``learns[k]``, the recipients (by index) whose reply the
    client knows at the end of stretch ``k``; ``data``, whether the message data follows."""

    stretches: tuple[Stretch, ...]
    learns: tuple[tuple[int, ...], ...]
    data: bool
    lead_in_d: int  # the stretches at once: from the SYN to the data's first byte


@cache
def layout(pipelining: bool, rcpt_count: int, mail_ok: bool = True, any_ok: bool = True) -> Layout:
    """The dialogue of a session to ``rcpt_count`` recipients: TCP, the 220 greeting, EHLO, then the
    MAIL/RCPT.../DATA group in one stretch with PIPELINING, else MAIL and each RCPT and DATA a
    round trip of its own. ``mail_ok`` False: MAIL FROM got 552 (the message is too big), which
    refuses everyone; ``any_ok`` False: no recipient was accepted (no data; without PIPELINING, no
    DATA either)."""
    rcpts = range(rcpt_count)
    opening = (Line(HANDSHAKE_D, "S", "greeting"), Line(HANDSHAKE_D + 1, "C", "ehlo"),
               Line(HANDSHAKE_D + 2, "S", "ehlo_reply"))
    mail_d = HANDSHAKE_D + 3
    data = mail_ok and any_ok
    if pipelining:
        group = (Line(mail_d, "C", "mail"), *(Line(mail_d, "C", "rcpt", i) for i in rcpts), Line(mail_d, "C", "data"),
                 Line(mail_d + 1, "S", "mail_reply"), *(Line(mail_d + 1, "S", "rcpt_reply", i) for i in rcpts),
                 Line(mail_d + 1, "S", "data_reply"))
        stretches: tuple[Stretch, ...] = (Stretch(opening + group, mail_d + 2),)
        return Layout(stretches, (tuple(rcpts),), data, span_d(stretches))
    steps = [Stretch((*opening, Line(mail_d, "C", "mail"), Line(mail_d + 1, "S", "mail_reply")), mail_d + 2)]
    learns: list[tuple[int, ...]] = [() if mail_ok else tuple(rcpts)]
    if mail_ok:
        for i in rcpts:
            steps.append(Stretch((Line(0, "C", "rcpt", i), Line(1, "S", "rcpt_reply", i)), 2))
            learns.append((i,))
        if any_ok:
            steps.append(Stretch((Line(0, "C", "data"), Line(1, "S", "data_reply")), 2))
            learns.append(())
    return Layout(tuple(steps), tuple(learns), data, span_d(steps))


# A session a capacity limit refused at the greeting: a 421 in place of the 220, then the server
# closes; the client knows as the 421 reaches it.
REFUSED_AT_GREETING = Layout((Stretch((Line(HANDSHAKE_D, "S", "greeting"),), HANDSHAKE_D + 1),), ((),), False,
                             HANDSHAKE_D + 1)


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
    refused: str = ""  # the code of a 421 at the greeting (the session never opened); else empty
    refusal: Any = None  # the server's capacity refusal (simulator.admission.Refusal), if any


# Every hop makes a plan, and most are of one transfer: those are made straight from their fields,
# ``_new_plan(Plan, fields)``, without NamedTuple's ``__new__`` (a Python frame filling in the
# defaults), which costs about twice as much.
_new_plan = tuple.__new__


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
    size_bytes = message.wire_bytes
    if message.eight_bit:
        size_bytes = message.hop_bytes(eight_bit_client and server.eight_bit_mime)
    if server.admission is not None:
        refusal = server.admission.session(message.id, client)
        if refusal is not None:
            return _refused(path, server, rcpts, size_bytes, refusal)
    if size_bytes > server.max_message_size_bytes:
        too_big = [(r, TOO_BIG) for r in rcpts]
        return Plan(size_bytes, [], (), True, _steps(layout(server.pipelining, len(rcpts), False, False),
                                                      path.delay_s, too_big), 0.0)
    sender = message.sender
    count = len(rcpts)
    accepted: tuple[str, ...]
    if count == 1:
        code = server.rcpt_reply(rcpts[0], submission, client, sender)
        replies = [(rcpts[0], code)]
        accepted = rcpts if code == OK else ()
    else:
        replies = [(rcpt, server.rcpt_reply(rcpt, submission, client, sender)) for rcpt in rcpts]
        accepted = tuple([r for r, code in replies if code == OK])
    if len(accepted) == count:
        # Nothing to report before the data: the whole dialogue is the lead-in of the one transfer.
        return _new_plan(Plan, (size_bytes, replies, accepted, False, NO_STEPS,
                                layout(server.pipelining, count).lead_in_d * path.delay_s, "", None))
    steps = _steps(layout(server.pipelining, count, True, bool(accepted)), path.delay_s, replies)
    return Plan(size_bytes, replies, accepted, False, steps, 0.0)


def _refused(path: Path, server: Receiver, rcpts: tuple[str, ...], size_bytes: int, refusal: Any) -> Plan:
    """The course of a session a server with inbound limits refused: a 421 at the greeting is
    known to the client after 2 RTT (TCP, greeting); a 452 to MAIL FROM after 4 RTT, as a 552;
    450 to each RCPT when they would be answered."""
    d = path.delay_s
    if refusal.stage == "greeting":
        return Plan(size_bytes, [], (), False, _steps(REFUSED_AT_GREETING, d, []), 0.0, refusal.code, refusal)
    replies = [(r, refusal.code) for r in rcpts]
    # a 452 to MAIL refuses everyone as a 552 would; a 450 to each RCPT as if none were accepted
    mail_ok = refusal.stage != "mail"
    return Plan(size_bytes, replies, (), False, _steps(layout(server.pipelining, len(rcpts), mail_ok, False), d,
                                                       replies), 0.0, "", refusal)


def _steps(dialogue: Layout, delay_s: float,
           replies: list[tuple[str, str]]) -> list[tuple[float, list[tuple[str, str]]]]:
    """The waits of a session that stops between its stretches: each stretch's length, then the
    replies the client has learned."""
    return [(stretch.end_d * delay_s, [replies[i] for i in learned])
            for stretch, learned in zip(dialogue.stretches, dialogue.learns, strict=True)]
