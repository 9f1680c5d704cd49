"""A delivery job and its run: a message's recipients that share a destination, taken from a
server's outgoing queue to the next server.

A job makes attempts with at most ``concurrency`` sessions of its server open at once (see
:mod:`simulator.slots`); each attempt tries the MX hosts in preference order. A failed attempt
is retried as the server's retry policy says, until the policy gives up and the server bounces
the recipients. While the server is down its jobs wait: they resume when it comes back.

With a policy that keeps destination state (``postfix``: per next-hop domain, ``exim``: per
host), a connection-level failure closes the destination for a while; a job due for a closed
destination is deferred without a connection (logged as ``held``), and Exim skips a closed host
of several.

With ``destination_concurrency``, an attempt first takes a slot of its destination (the first MX
host of its recipients), then a slot of its server, each first come first served, and holds both
until it ends. A host that refuses the session at its greeting (421) counts as a host that did
not answer: the next MX host is tried at once.

The queue, local delivery, the decision after a failure and the DSNs belong to the server
(:mod:`simulator.server`); this module owns the attempts and their timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from . import destinations, kernel
from .addresses import domain_of
from .exchange import SmtpExchange
from .message import Message
from .protocols import smtp
from .retry import TryRecord
from .slots import Slots

if TYPE_CHECKING:
    from .server import MailServer

CONNECT_FAILED = "421"  # what the log records for a host that did not answer
CUT = "451"  # a session cut by an outage before the final reply


class Job:
    """A delivery job in a server's queue (a message, the recipients it is for, their MX hosts)
    and its run: attempts over the MX hosts, retries, give-up, as timers and session callbacks.

    Time: waits for the server to be up and for a free session slot, then the attempt's
    connects and SMTP exchanges; between attempts, the retry policy's delay. An outage of
    this server or of the path cuts the attempt in progress (a failed attempt). ``state``
    resumes a job whose last attempt turned out to have failed (its final reply was cut off):
    the retry policy decides at once what happens next. When the job ends, it starts the jobs
    its deliveries created at the next server.
    """

    __slots__ = ("batch", "code", "contacts", "destination", "followups", "handle", "host", "host_index", "hosts",
                 "message", "offered", "open_hosts", "path", "queued_at_s", "rcpts", "remaining", "server", "settled",
                 "state", "timer", "waiting")

    def __init__(
        self, server: MailServer, message: Message, rcpts: tuple[str, ...], hosts: tuple[str, ...],
        state: Retrying | None,
    ) -> None:
        self.server = server
        self.message = message
        self.rcpts = rcpts
        self.hosts = hosts
        self.state = state
        self.timer: simpy.Event | None = None  # a connect being waited for
        self.handle: Any = None  # the open session's registration
        self.destination: Slots | None = None  # the destination's slots, while the job holds one

    # ---- the job ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the job from now, as part of the caller's step."""
        state = self.state
        if state is None:
            self.queued_at_s = self.server.ctx.clock()
            self.code: str | None = None
        else:
            self.queued_at_s = state.queued_at_s
            self.code = state.code
        self.remaining = list(self.rcpts)
        self.followups: list[Job] = NO_JOBS  # replaced, never changed
        if self.code is None:
            self._await_turn()
        else:
            self._next()

    def _retrying(self) -> Retrying:
        """Where the job stands with the retry policy (made when first needed)."""
        state = self.state
        if state is None:
            state = self.state = Retrying(self.queued_at_s)
        return state

    def start_soon(self) -> None:
        """Run the job from a step of its own at the current time, ahead of ordinary events."""
        kernel.call_soon(self.server.ctx.env, self._started)

    def _started(self, _event: Any) -> None:
        self.start()

    def _next(self, _event: Any = None) -> None:
        """Attempt (once the server is up and a slot is free), or act on the last failure."""
        if not self.remaining:
            self._end()
        elif self.code is None:
            self._await_turn()
        else:
            self._failed()

    def _await_turn(self, _event: Any = None) -> None:
        server = self.server
        if not server.up:
            server.back_up().callbacks.append(self._await_turn)
            return
        self.open_hosts = self.hosts
        if server.policy.destination is not None and server.destinations:
            self.open_hosts, reopen_s = destinations.open_hosts(server.policy, server.destinations, self.remaining,
                                                                self.hosts, self.queued_at_s, server.ctx.env.now)
            if reopen_s is not None:  # its destination is closed: deferred without a connection
                ctx = server.ctx
                why = "dead" if server.policy.destination == "domain" else "retry_time"
                ctx.record("held", self.message.id, server.name, (tuple(self.remaining), self.hosts, why, reopen_s))
                self.code = CONNECT_FAILED
                self._failed(reopen_s)
                return
        if server.destination_slots is not None:
            slots = self.destination = server.destination_slots.of(self.hosts[0])
            if slots.take():
                self._await_slot()
            else:
                slots.wait().callbacks.append(self._await_slot)
            return
        if server.slots.take():
            self._attempt_now()
        else:
            server.slots.wait().callbacks.append(self._attempt)

    def _await_slot(self, _event: Any = None) -> None:
        """The job holds a slot of its destination: now a slot of its server."""
        server = self.server
        if server.slots.take():
            self._attempt(None)
        else:
            server.slots.wait().callbacks.append(self._attempt)

    def _give_slots(self) -> None:
        """The attempt is over (or cannot start): its slots go to the next in line."""
        self.server.slots.give()
        destination = self.destination
        if destination is not None:
            destination.give()
            self.destination = None

    def _failed(self, reopen_s: float | None = None) -> None:
        code = self.code
        assert code is not None
        next_s = self.server._after_failure(self.message, self.remaining, code, self._retrying(), reopen_s)
        if next_s is None:
            self._end()
            return
        self.code = None
        env = self.server.ctx.env
        kernel.timer(env, max(0.0, next_s - env.now), self._next)

    def _end(self) -> None:
        self.server._dequeue(self.message)
        start_jobs(self.followups)

    # ---- one attempt -----------------------------------------------------------------------
    # Over the MX hosts in order. ``hosts`` is the union of the recipients' MX lists (they share
    # the first); each host is offered the recipients still waiting whose own list names it. A
    # host that is down or unreachable costs ``connect_timeout`` and the next host is tried at
    # once. A session that completes settles every recipient it accepted or refused; one it
    # deferred waits for the next attempt. The attempt holds a session slot from start to end.

    def _attempt(self, _event: Any) -> None:
        """A slot was handed over: attempt if the server is still up."""
        if not self.server.up:
            self._give_slots()
            self._next()
            return
        self._attempt_now()

    def _attempt_now(self) -> None:
        server = self.server
        ctx = server.ctx
        ctx.append_record((ctx.clock(), "attempt", self.message.id, server.name,
                           (tuple(self.remaining), tuple(self.open_hosts))))
        self.contacts: list[tuple[str, bool, float]] = []  # (host, answered, when), for destination state
        self.settled: set[str] = set()
        self.code = CONNECT_FAILED
        self.batch: list[tuple[str, str]] | None = None  # refusals learned at this moment
        self.waiting = self.remaining  # not yet offered to a host that answered (replaced, never changed)
        self.host_index = 0
        self._next_host()

    def _next_host(self) -> None:
        server, message, hosts = self.server, self.message, self.open_hosts
        ctx = server.ctx
        while self.host_index < len(hosts):
            host = hosts[self.host_index]
            self.host_index += 1
            if self.host_index == 1 and hosts is self.hosts:
                offered = tuple(self.waiting)  # the first host is every recipient's first MX
            else:
                offered = tuple(r for r in self.waiting if host in server.mx_hosts(domain_of(r)))
                if not offered:
                    continue
            self.host = host
            remote = ctx.servers[host]
            path = ctx.net.path(server.name, host)
            if path is None or not remote.up:
                if ctx.traces is not None:
                    ctx.trace("smtp", server.name, host, message.id, t0=ctx.env.now, connect_failed=True,
                              timeout_s=server.connect_timeout_s)
                self.handle = ctx.sessions.open(self._connect_cut, None, endpoints=(server.name,))
                self.timer = kernel.timer(ctx.env, server.connect_timeout_s, self._connect_failed)
                return
            self.offered = offered
            self.path = path
            exchange = SmtpExchange(ctx.env, ctx.net, path, remote, message, offered, server.name, self, False,
                                    server.eight_bit_mime)
            if ctx.sessions.enabled:
                self.handle = ctx.sessions.open(exchange.cut, path)
            exchange.start(None if ctx.traces is None else ctx.trace("smtp", server.name, host, message.id))
            return
        self._attempt_over(self.code or CONNECT_FAILED)

    def _connect_failed(self, timer: simpy.Event) -> None:
        if timer is not self.timer:
            return  # cut meanwhile
        self.timer = None
        server = self.server
        server.ctx.sessions.close(self.handle)
        self.handle = None
        server.ctx.record("connect_failed", self.message.id, server.name, (self.host, CONNECT_FAILED))
        self.contacts.append((self.host, False, server.ctx.env.now))
        self._next_host()

    def _connect_cut(self) -> None:
        self.timer = None
        server = self.server
        server.ctx.record("session_cut", self.message.id, server.name, (self.host, False))
        server.ctx.sessions.close(self.handle)
        self.handle = None
        self._attempt_over(CUT)

    def session_refused(self, rcpt: str, reply: str) -> None:
        """Refusals learned at one moment make one bounce, sent at that moment."""
        self.settled.add(rcpt)
        batch = self.batch
        if not batch:
            batch = self.batch = []
            server = self.server
            server.ctx.end.hold()  # the run waits for the bounce, even if this job ends first
            kernel.timer(server.ctx.env, 0.0, partial(server._bounce_batch, self.message, batch, self.host))
        batch.append((rcpt, reply))

    def session_ended(self, result: SmtpExchange) -> None:
        server, message, host = self.server, self.message, self.host
        ctx = server.ctx
        sessions = ctx.sessions
        if sessions.enabled:
            sessions.close(self.handle)
            self.handle = None
        if result.cut_off:
            ctx.record("session_cut", message.id, server.name, (host, False))
            self._attempt_over(CUT)
            return
        if result.plan.refused:  # 421 at the greeting: as a host that did not answer
            ctx.record("connect_failed", message.id, server.name, (host, result.plan.refused))
            self.contacts.append((host, False, ctx.clock()))
            self._next_host()
            return
        self.contacts.append((host, True, ctx.clock()))
        if result.accepted:
            ctx.append_record((ctx.clock(), "sent", message.id, server.name, (host, result.accepted, smtp.OK)))
            if result.followups:
                self.followups = self.followups + result.followups
            if sessions.enabled:
                sessions.tail(self.path, result.ack_at_s, partial(self._reply_lost, result.accepted, host))
            if len(result.accepted) == len(self.remaining):  # every recipient: the job is done
                self.code = smtp.OK
                self._give_slots()
                self._learn()
                self.remaining = []
                self._end()
                return
        self.settled.update(result.accepted)
        offered = self.offered
        self.waiting = [r for r in self.waiting if r not in offered]
        if result.deferred:
            self.code = code = result.deferred[0][1]
            deferred = tuple([r for r, _ in result.deferred])
            ctx.record("rcpt_deferred", message.id, server.name, (host, deferred, code))
        elif not self.waiting:
            self._attempt_over(smtp.OK)
            return
        self._next_host()

    def _learn(self) -> None:
        """The attempt's connections update the server's destination state (postfix, exim)."""
        server = self.server
        if server.policy.destination is not None:
            destinations.learn(server.policy, server.destinations, self.remaining, self.contacts)

    def _reply_lost(self, rcpts: tuple[str, ...], host: str) -> None:
        self.server._reply_lost(self.message, rcpts, self.hosts, host, self._retrying())

    def _attempt_over(self, code: str) -> None:
        """The attempt is over with ``code``: its slot is free; the job goes on."""
        self.code = code
        self._give_slots()
        self._learn()
        settled = self.settled
        self.remaining = [r for r in self.remaining if r not in settled]
        if not self.remaining:
            self._end()
            return
        for job in self.followups:  # this job goes on retrying: the next server's jobs run apart
            job.start_soon()
        self.followups = NO_JOBS
        self._failed()


NO_JOBS: list[Job] = []  # a job's follow-ups until it has some: shared, so never changed


@dataclass(slots=True)
class Retrying:
    """Where a delivery job stands with the retry policy."""

    queued_at_s: float
    failures: int = 0
    first_failure_s: float = 0.0
    warned: bool = False
    code: str | None = None  # a failure to act on before the next attempt
    record: TryRecord | None = None  # the policy's retry record for the job (exim)


def start_jobs(jobs: list[Job]) -> None:
    """Start delivery jobs handed over by a session that has just ended: the first one at once,
    as part of the current step, the others each in a step of its own."""
    if jobs:
        for job in jobs[1:]:
            job.start_soon()
        jobs[0].start()
