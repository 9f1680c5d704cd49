"""User agents: a user's mail client, which submits what the user sends to the user's server.

Submission is an SMTP session from the user's node to the server holding the user's domain.
``submitted_at`` is when the user presses send; the message enters the server's queue when the
server accepts it. If the server cannot be reached, or the session is cut, the message stays in
the client's outbox and submission is tried again ``SUBMIT_RETRY_S`` later: nothing is lost.
A recipient the server refuses at submission (unknown local user, oversized message) is
reported to the user at once; no DSN is sent, since the server never accepted the message.
A session cut after the server accepted but before the client saw the 250 is submitted again,
so the server gets the message twice: a duplicate, as in real SMTP.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from . import fast
from .context import Context
from .devices import Device
from .message import Message
from .protocols import smtp
from .server import CONNECT_FAILED, CUT, Job, MailServer, log_created, run_jobs

if TYPE_CHECKING:
    from .behaviour import Behaviour

SUBMIT_RETRY_S = 60.0
SUBMIT_CONNECT_TIMEOUT_S = 30.0


class UserAgent:
    """One user: an address, the node its devices sit at, its home server, and its devices."""

    def __init__(self, ctx: Context, address: str, node: str, server: MailServer, spec: Any) -> None:
        self.ctx = ctx
        self.address = address
        self.node = node
        self.server = server
        self.spec = spec
        self.devices: list[Device] = []
        self.read: set[str] = set()  # messages the user has seen on some device (kept with 2+ devices)
        self.behaviour: Behaviour | None = None
        self._copies = 0

    def add_devices(self, rngs: list[np.random.Generator]) -> None:
        """Create the user's devices (one random stream each) and listen to the mailbox."""
        self.devices = [Device(self, i + 1, rng) for i, rng in enumerate(rngs)]
        access = self.spec.access
        self._copies = 1 if access.protocol == "pop3" and not access.keep else len(self.devices)
        self.server.mailboxes[self.address].listeners.append(self.delivered)

    @property
    def copies_wanted(self) -> int:
        """How many devices must retrieve a message: one for POP3 that deletes, else every one."""
        return self._copies

    def start(self) -> None:
        for device in self.devices:
            device.start()

    def delivered(self, message: Message) -> None:
        """A new message is in the mailbox: it waits to be retrieved; the devices are told."""
        self.ctx.busy += self._copies  # held until retrieved (ctx.hold, that many times)
        for device in self.devices:
            device.notify(message)

    def retrieved(self, device: Device, message: Message) -> None:
        """``device`` now holds ``message`` (each device reports each message once)."""
        if len(self.devices) == 1:
            first = True  # its one device reports each message once: nothing to keep
        else:
            read, mid = self.read, message.id
            first = mid not in read
            read.add(mid)
        if first and self.behaviour is not None:
            self.behaviour.on_read(self, message)  # before releasing, so the run waits for what it starts
        if first or self._copies > 1:
            self.ctx.release()

    def send(self, message: Message) -> None:
        """The user presses send now."""
        ctx = self.ctx
        log_created(ctx, message, self.node)
        ctx.busy += 1  # ctx.hold(): the submission is in flight
        if not fast.try_submit(self, message):
            ctx.env.process(self._submit(message, message.recipients))

    def _submit(self, message: Message, rcpts: tuple[str, ...]) -> Generator[Any, Any, None]:
        """Submit ``message`` to the home server until it accepts or refuses every recipient,
        then go on as the server's delivery job (see ``server.run_jobs``).

        Time: the SMTP session's round trips and transfer; on a failed connect,
        ``SUBMIT_CONNECT_TIMEOUT_S`` then ``SUBMIT_RETRY_S``. Cut by outages of the server or path.
        The caller has put a hold on the run for this submission; it is released here.
        """
        ctx, env, server = self.ctx, self.ctx.env, self.server
        process = env.active_process
        assert process is not None
        refusals: set[str] = set()

        def refused(rcpt: str, code: str) -> None:
            refusals.add(rcpt)
            ctx.record("bounced", message.id, self.node,
                           f"rcpt={rcpt} code={code} reason=submission dsn=-")

        jobs: list[Job] = []
        pending = rcpts
        while pending:
            path = ctx.net.path(self.node, server.name)
            if path is None or not server.up:
                ctx.trace("submission", self.node, server.name, message.id, t0=env.now, connect_failed=True,
                          timeout_s=SUBMIT_CONNECT_TIMEOUT_S, user=self.address)
                yield env.timeout(SUBMIT_CONNECT_TIMEOUT_S)
                ctx.record("submit_failed", message.id, self.node,
                               f"host={server.name} code={CONNECT_FAILED} next={env.now + SUBMIT_RETRY_S!r}")
                yield env.timeout(SUBMIT_RETRY_S)
                continue
            handle = ctx.sessions.open(process, path)
            try:
                trace = ctx.trace("submission", self.node, server.name, message.id, user=self.address)
                result = yield from smtp.session(
                    env, ctx.net, path, server, message, pending, self.node, refused, submission=True, trace=trace
                )
            finally:
                ctx.sessions.close(handle)
            if not result.cut:
                if result.accepted:
                    jobs = result.followups
                    ctx.sessions.tail(path, result.ack_at_s, partial(self._reply_lost, message, result.accepted))
                break
            pending = tuple(r for r in pending if r not in refusals)
            ctx.record("submit_failed", message.id, self.node,
                           f"host={server.name} code={CUT} next={env.now + SUBMIT_RETRY_S!r}")
            yield env.timeout(SUBMIT_RETRY_S)
        ctx.release()
        yield from run_jobs(env, jobs)

    def _reply_lost(self, message: Message, rcpts: tuple[str, ...]) -> None:
        """The server accepted but an outage cut the 250 on its way back: the client submits
        again, and the server gets the message twice (a duplicate, as in real SMTP)."""
        ctx = self.ctx
        ctx.record("submit_failed", message.id, self.node,
                       f"host={self.server.name} code={CUT} accepted=yes next={ctx.env.now + SUBMIT_RETRY_S!r}")
        ctx.hold()
        ctx.env.process(self._resubmit(message, rcpts))

    def _resubmit(self, message: Message, rcpts: tuple[str, ...]) -> Generator[Any, Any, None]:
        yield self.ctx.env.timeout(SUBMIT_RETRY_S)
        yield from self._submit(message, rcpts)
