"""User agents: a user's mail client, which submits what the user sends to the user's server.

Submission is an SMTP session from the user's node to the server holding the user's domain.
``submitted_at`` is when the user presses send; the message enters the server's queue when the
server accepts it. If the server cannot be reached, or the session is cut, the message stays in
the client's outbox and submission is tried again ``SUBMIT_RETRY_S`` later: nothing is lost.
A recipient the server refuses at submission (unknown local user, oversized message) is
reported to the user at once; no DSN is sent, since the server never accepted the message.
A session cut after the server accepted but before the client saw the 250 is submitted again,
so the server gets the message twice: a duplicate, as in real SMTP. A server that refuses the
session (421 at the greeting) or defers recipients (452 to MAIL FROM, 450 to RCPT: its capacity
limits) is tried again ``SUBMIT_RETRY_S`` after the client learns it, for the deferred recipients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernel
from .delivery import CONNECT_FAILED, CUT, start_jobs
from .devices import Device
from .exchange import SmtpExchange
from .message import Message
from .network import Path
from .server import MailServer, log_created
from .wiring import AgentWiring

if TYPE_CHECKING:
    from .behaviour import Behaviour

SUBMIT_RETRY_S = 60.0
SUBMIT_CONNECT_TIMEOUT_S = 30.0
NO_REFUSALS: frozenset[str] = frozenset()


class UserAgent:
    """One user: an address, the node its devices sit at, its home server, and its devices."""

    def __init__(self, ctx: AgentWiring, address: str, node: str, server: MailServer, spec: Any) -> None:
        self.ctx = ctx
        self.address = address
        self.node = node
        self.server = server
        self.spec = spec
        self.devices: list[Device] = []
        self.mailbox = server.mailboxes[address]
        # With 2+ devices: messages some device has retrieved -> how many have. A message leaves it
        # when no device can report it again: every device has, or POP3 deleted it.
        self.read: dict[str, int] = {}
        self.behaviour: Behaviour | None = None
        self._copies = 0
        self._listeners: list[Callable[[Message], None]] = []

    def add_devices(self, rngs: list[np.random.Generator]) -> None:
        """Create the user's devices (one random stream each) and listen to the mailbox."""
        self.devices = [Device(self, i + 1, rng) for i, rng in enumerate(rngs)]
        if len(self.devices) > 1:
            for device in self.devices:
                device.share_seen()
        # Who to tell of new mail: an IMAP device's client directly (one call less per delivery).
        self._listeners = [device.imap.notify if device.imap is not None else device.notify
                           for device in self.devices]
        access = self.spec.access
        self._copies = 1 if access.protocol == "pop3" and not access.keep else len(self.devices)
        mailbox = self.mailbox
        mailbox.listeners.append(self.delivered)
        # Only POP3 and webmail read messages back from the mailbox (an IMAP client is handed each).
        mailbox.listed = any(device.imap is None for device in self.devices)

    @property
    def copies_wanted(self) -> int:
        """How many devices must retrieve a message: one for POP3 that deletes, else every one."""
        return self._copies

    def start(self) -> None:
        for device in self.devices:
            device.start()

    def delivered(self, message: Message) -> None:
        """A new message is in the mailbox: it waits to be retrieved; the devices are told."""
        self.ctx.end.hold(self._copies)  # held until retrieved, by every device that must
        for notify in self._listeners:
            notify(message)

    def retrieved(self, device: Device, message: Message) -> None:
        """``device`` now holds ``message`` (each device reports each message once)."""
        devices = len(self.devices)
        if devices == 1:
            first = True  # its one device reports each message once: nothing to keep
        else:
            read, mid = self.read, message.id
            count = read.get(mid, 0) + 1
            first = count == 1
            if count < devices:
                read[mid] = count
            else:  # the last device to get it: nothing will ask of it again
                del read[mid]
                self.mailbox.seen.discard(mid)
        if first and self.behaviour is not None:
            self.behaviour.on_read(self, message)  # before releasing, so the run waits for what it starts
        if first or self._copies > 1:
            self.ctx.end.release()

    def passed(self) -> None:
        """A device that leaves mail on the server moved its cursor: the mailbox forgets the
        messages every device has passed (see ``Device.new_messages``)."""
        self.mailbox.forget_before(min(device.cursor for device in self.devices))

    def deleted(self, message_ids: Iterable[str]) -> None:
        """POP3 deleted these messages from the mailbox: no device can report them any more."""
        if len(self.devices) > 1:
            read = self.read
            for mid in message_ids:
                read.pop(mid, None)

    def send(self, message: Message) -> None:
        """The user presses send now: the submission starts."""
        ctx = self.ctx
        log_created(ctx, message, self.node)
        ctx.end.hold()  # the submission is in flight
        Submission(self, message, message.recipients).start()

    def _reply_lost(self, message: Message, rcpts: tuple[str, ...]) -> None:
        """The server accepted but an outage cut the 250 on its way back: the client submits
        again, and the server gets the message twice (a duplicate, as in real SMTP)."""
        ctx = self.ctx
        ctx.record("submit_failed", message.id, self.node, (self.server.name, CUT, True, ctx.env.now + SUBMIT_RETRY_S))
        ctx.end.hold()
        kernel.call_soon(ctx.env, Submission(self, message, rcpts).resubmit)


class Submission:
    """Submitting one message to the sender's home server until it accepts or refuses every
    recipient, then going on as the server's delivery jobs (see ``delivery.start_jobs``).

    Time: the SMTP session's round trips and transfer; on a failed connect,
    ``SUBMIT_CONNECT_TIMEOUT_S`` then ``SUBMIT_RETRY_S``; after a cut, ``SUBMIT_RETRY_S``. Cut by
    outages of the server or path. The user agent has put a hold on the run for this submission;
    it is released here.
    """

    __slots__ = ("agent", "handle", "message", "path", "pending", "refusals")

    def __init__(self, agent: UserAgent, message: Message, rcpts: tuple[str, ...]) -> None:
        self.agent = agent
        self.message = message
        self.pending = rcpts  # recipients neither accepted nor refused yet
        self.refusals = NO_REFUSALS  # recipients refused so far (most submissions see none)
        self.path: Path | None = None
        self.handle: Any = None

    def start(self) -> None:
        """Try a session now."""
        agent, message = self.agent, self.message
        ctx, server = agent.ctx, agent.server
        path = self.path = ctx.net.path(agent.node, server.name)
        if path is None or not server.up:
            ctx.trace("submission", agent.node, server.name, message.id, t0=ctx.env.now, connect_failed=True,
                      timeout_s=SUBMIT_CONNECT_TIMEOUT_S, user=agent.address)
            kernel.timer(ctx.env, SUBMIT_CONNECT_TIMEOUT_S, self._connect_failed)
            return
        exchange = SmtpExchange(ctx.env, ctx.net, path, server, message, self.pending, agent.node, self, True)
        sessions = ctx.sessions
        if sessions.enabled:
            self.handle = sessions.open(exchange.cut, path)
        if ctx.traces is None:
            exchange.start()
        else:
            exchange.start(ctx.trace("submission", agent.node, server.name, message.id, user=agent.address))

    def resubmit(self, _event: Any = None) -> None:
        """Submit again after ``SUBMIT_RETRY_S`` (the 250 of the last submission was lost)."""
        kernel.timer(self.agent.ctx.env, SUBMIT_RETRY_S, self.again)

    def session_refused(self, rcpt: str, code: str) -> None:
        self.refusals |= {rcpt}
        self.agent.ctx.record("bounced", self.message.id, self.agent.node, (rcpt, code, "submission", "-", None))

    def _connect_failed(self, _event: Any) -> None:
        ctx = self.agent.ctx
        ctx.record("submit_failed", self.message.id, self.agent.node,
                   (self.agent.server.name, CONNECT_FAILED, None, ctx.env.now + SUBMIT_RETRY_S))
        kernel.timer(ctx.env, SUBMIT_RETRY_S, self.again)

    def session_ended(self, result: SmtpExchange) -> None:
        agent, message = self.agent, self.message
        ctx = agent.ctx
        sessions = ctx.sessions
        if not result.cut_off and (result.plan.refused or result.deferred):
            self._deferred(result)
            return
        if not result.cut_off:
            if sessions.enabled:
                sessions.close(self.handle)
                self.handle = None
                if result.accepted:
                    assert self.path is not None
                    sessions.tail(self.path, result.ack_at_s, partial(agent._reply_lost, message, result.accepted))
            self.agent.ctx.end.release()
            start_jobs(result.followups)
            return
        sessions.close(self.handle)
        self.handle = None
        self.pending = tuple(r for r in self.pending if r not in self.refusals)
        ctx.record("submit_failed", message.id, agent.node,
                   (agent.server.name, CUT, None, ctx.env.now + SUBMIT_RETRY_S))
        kernel.timer(ctx.env, SUBMIT_RETRY_S, self.again)

    def _deferred(self, result: SmtpExchange) -> None:
        """The server refused the session at its greeting or deferred recipients: submit those
        again after ``SUBMIT_RETRY_S`` (the ones it accepted go on as its delivery jobs)."""
        agent, message = self.agent, self.message
        ctx = agent.ctx
        if ctx.sessions.enabled:
            ctx.sessions.close(self.handle)
            self.handle = None
        code = result.plan.refused
        if result.deferred:
            code = result.deferred[0][1]
            self.pending = tuple(r for r, _ in result.deferred)
        next_s = ctx.env.now + SUBMIT_RETRY_S
        ctx.record("submit_failed", message.id, agent.node, (agent.server.name, code, None, next_s))
        start_jobs(result.followups)
        kernel.timer(ctx.env, SUBMIT_RETRY_S, self.again)

    def again(self, _event: Any = None) -> None:
        """Try a session now if any recipient is still pending; else the submission is over."""
        if self.pending:
            self.start()
        else:
            self.agent.ctx.end.release()
