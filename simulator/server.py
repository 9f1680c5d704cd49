"""A mail server: it accepts mail, delivers it to mailboxes, and relays the rest from its queue.

A message the server accepts is split by recipient: those whose mailboxes it holds are
delivered at once; the others are grouped by destination (the MX hosts of their domain) and
each group becomes a delivery job in the durable outgoing queue. A job makes attempts with at
most ``concurrency`` sessions of this server open at once; each attempt tries the MX hosts in
preference order. A failed attempt is retried as the retry policy says, until the policy
gives up and the sender gets a bounce (an RFC 3464 DSN from ``MAILER-DAEMON@<server>`` with
the null sender). A DSN that fails is never bounced.

With a policy that keeps destination state (``postfix``: per next-hop domain, ``exim``: per
host), a connection-level failure closes the destination for a while; a job due for a closed
destination is deferred without a connection (logged as ``held``), and Exim skips a closed host
of several.

While the server is down it answers nobody, its sessions are cut, and its queue waits: jobs
resume when it comes back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any

import simpy

from . import kernel
from .context import Context
from .exchange import SmtpExchange
from .mailbox import Mailbox
from .message import BOUNCE, DSN_BODY_BYTES, WARNING, Message, header_bytes
from .protocols import smtp
from .retry import TryRecord, make_policy

CONNECT_FAILED = "421"  # what the log records for a host that did not answer
GREYLISTED = "450"  # 450 4.7.1: try again later
CUT = "451"  # a session cut by an outage before the final reply
UNKNOWN_USER = "550"
RELAY_DENIED = "554"
LOOP = "554"


class _Domains(dict[str, str]):
    """Memo of address -> domain: the same few thousand addresses are looked at again and again."""

    def __missing__(self, address: str) -> str:
        domain = self[address] = address.rpartition("@")[2]
        return domain


domain_of = _Domains().__getitem__
"""The domain of an address (the part after the last @)."""


class MailServer:
    """One MTA: mailboxes for its domains, relay for others, an outgoing queue."""

    def __init__(self, ctx: Context, spec: Any) -> None:
        self.ctx = ctx
        self.name: str = spec.name
        self.spec = spec
        self.policy = make_policy(spec.retry)
        self.domains = frozenset(spec.domains)
        self.relay_for = frozenset(spec.relay_for)
        self.max_message_size_bytes: int = spec.max_message_size_bytes
        self.pipelining: bool = spec.pipelining
        self.eight_bit_mime: bool = spec.eight_bit_mime
        self.greylist = Greylist(spec.greylisting) if spec.greylisting is not None else None
        self.connect_timeout_s: float = spec.connect_timeout_s
        self.mailboxes: dict[str, Mailbox] = {}
        self.slots = Slots(ctx.env, spec.concurrency)
        self.destinations: dict[str, TryRecord] = {}  # domain (postfix) or host (exim) -> its failure state
        self.queued: dict[str, int] = {}  # message id -> its jobs still in this queue
        self._mx: dict[str, tuple[str, ...]] = {}  # domain -> MX hosts as seen from here (DNS is static)
        self.up = True  # no outage holds it down (kept apart: read on every hop)
        self._back_up = ctx.env.event()

    # ---- state -----------------------------------------------------------------------------

    def go_down(self) -> None:
        """An outage takes the server down (simulator.outages counts overlapping ones)."""
        self.up = False
        self._back_up = self.ctx.env.event()

    def come_up(self) -> None:
        self.up = True
        self._back_up.succeed()

    def back_up(self) -> simpy.Event:
        """An event that fires when the server is up again."""
        return self._back_up

    # ---- the receiving side of SMTP ----------------------------------------------------------

    def rcpt_reply(self, rcpt: str, submission: bool, client: str, sender: str) -> str:
        """The reply to ``RCPT TO:<rcpt>``: 250, 450 (greylisted, temporary) or 550/554 (permanent)."""
        domain = domain_of(rcpt)
        if domain in self.domains:
            if rcpt not in self.mailboxes:
                return UNKNOWN_USER
        elif not (submission or domain in self.relay_for):
            return RELAY_DENIED
        if self.greylist is not None and not submission and not self.greylist.passes(client, sender, rcpt,
                                                                                      self.ctx.env.now):
            return GREYLISTED
        return smtp.OK

    def accept(self, message: Message, rcpts: tuple[str, ...], client: str) -> list[Job]:
        """The moment this server owns the message for ``rcpts`` (it sends 250 after DATA).

        Returns the delivery jobs this creates, for the caller to run (they are already queued).
        """
        ctx = self.ctx
        ctx.append_record((ctx.clock(), "accepted", message.id, self.name, f"from={client} rcpts={','.join(rcpts)}"))
        return self.take(message, rcpts, False)  # the jobs are returned, not started

    def take(self, message: Message, rcpts: tuple[str, ...], start: bool = True) -> list[Job]:
        """Deliver local recipients now; queue one job per destination for the rest.

        With ``start`` the jobs start in steps of their own; otherwise they are returned for the
        caller to run (see :func:`start_jobs`).
        """
        groups: dict[str, list[str]] | None = None  # first MX host -> its rcpts (made for the first)
        for rcpt in rcpts:
            domain = domain_of(rcpt)
            if domain in self.domains:
                self.deliver_local(message, rcpt)
                continue
            hosts = self.mx_hosts(domain)
            if not hosts:
                self.fail_permanently(message, (rcpt,), LOOP)
                continue
            if groups is None:
                groups = {}
            groups.setdefault(hosts[0], []).append(rcpt)  # one session per destination server
        if groups is None:
            return []
        jobs = [self.enqueue(message, tuple(group), self._hosts_of(group)) for group in groups.values()]
        if start:
            for job in jobs:
                job.start_soon()
            return []
        return jobs

    def deliver_local(self, message: Message, rcpt: str) -> None:
        ctx = self.ctx
        mailbox = self.mailboxes.get(rcpt)
        if mailbox is None:
            self.fail_permanently(message, (rcpt,), UNKNOWN_USER)
            return
        if message.id in mailbox.ids:
            ctx.record("duplicate", message.id, self.name, f"rcpt={rcpt}")
            return
        ctx.append_record((ctx.clock(), "delivered", message.id, self.name, "rcpt=" + rcpt))
        mailbox.store(message)

    def _hosts_of(self, rcpts: list[str]) -> tuple[str, ...]:
        """The MX hosts of some recipients that share their first: every list's first host, then
        every list's second, and so on, each host once."""
        if len(rcpts) == 1:
            return self.mx_hosts(domain_of(rcpts[0]))
        lists = [self.mx_hosts(domain_of(r)) for r in rcpts]
        if len(set(lists)) == 1:
            return lists[0]
        ordered: dict[str, None] = {}
        for position in range(max(len(hosts) for hosts in lists)):
            for hosts in lists:
                if position < len(hosts):
                    ordered.setdefault(hosts[position], None)
        return tuple(ordered)

    def mx_hosts(self, domain: str) -> tuple[str, ...]:
        """MX hosts for ``domain`` in preference order; a relay MX drops itself and worse ones."""
        hosts = self._mx.get(domain)
        if hosts is None:
            hosts = self._mx[domain] = self._mx_hosts(domain)
        return hosts

    def _mx_hosts(self, domain: str) -> tuple[str, ...]:
        records = self.ctx.dns.get(domain, ())
        own = [pref for host, pref in records if host == self.name]
        if own:
            records = tuple((h, p) for h, p in records if p < own[0])
            if not records and domain in self.relay_for:
                # No MX host better than itself (a filtering gateway listed first, say): a relay
                # hands the mail straight to the server holding the domain, as its own routing would.
                return (self.ctx.home[domain],)
        return tuple(host for host, _ in records)

    # ---- the outgoing queue ------------------------------------------------------------------

    def enqueue(
        self, message: Message, rcpts: tuple[str, ...], hosts: tuple[str, ...], state: Retrying | None = None
    ) -> Job:
        """Put a delivery job in the queue; returns the job for someone to run."""
        ctx = self.ctx
        jobs = self.queued.get(message.id, 0)
        self.queued[message.id] = jobs + 1
        if jobs == 0:
            ctx.append_record((ctx.clock(), "enqueued", message.id, self.name, f"queue={len(self.queued)}"))
        ctx.end.hold()  # the job is queued
        return Job(self, message, rcpts, hosts, state)

    def _dequeue(self, message: Message) -> None:
        ctx = self.ctx
        left = self.queued[message.id] - 1
        if left:
            self.queued[message.id] = left
        else:
            del self.queued[message.id]
            ctx.append_record((ctx.clock(), "dequeued", message.id, self.name, f"queue={len(self.queued)}"))
        ctx.end.release()

    def _after_failure(
        self, message: Message, remaining: list[str], code: str, st: Retrying, reopen_s: float | None = None
    ) -> float | None:
        """A job's attempt failed with ``code`` for ``remaining``: the retry policy decides. Returns
        when to attempt next, or None when the policy gave up (the recipients were bounced)."""
        ctx, env = self.ctx, self.ctx.env
        st.failures += 1
        if st.failures == 1:
            st.first_failure_s = env.now
        if reopen_s is None:
            decision = self.policy.decide(env.now, st.queued_at_s, st.first_failure_s, st.failures, st.warned,
                                          st.record)
        else:
            decision = self.policy.decide_held(env.now, st.queued_at_s, st.first_failure_s, st.failures, st.warned,
                                               st.record, reopen_s)
        st.record = decision.record
        if decision.action == "bounce":
            self.fail_permanently(message, tuple(remaining), code, expired=True)
            return None
        if decision.warn:
            st.warned = True
            self.send_dsn(message, tuple(remaining), WARNING, code)
        next_s = decision.next_attempt_s
        assert next_s is not None  # a retry always has a time
        ctx.record("deferred", message.id, self.name,
                   f"rcpts={','.join(remaining)} code={code} next={next_s!r}")
        return next_s

    def _open_hosts(
        self, rcpts: list[str], hosts: tuple[str, ...], queued_at_s: float
    ) -> tuple[tuple[str, ...], float | None]:
        """The hosts a job may try now and, when it may try none, the time its destination reopens.

        ``postfix``: the job waits while every domain of its recipients is dead. ``exim``: hosts
        whose retry time has not come are skipped; the job waits when that is all of them.
        """
        now_s, policy, states = self.ctx.env.now, self.policy, self.destinations
        if policy.destination == "domain":
            records = [states.get(domain_of(r)) for r in rcpts]
            closed = [r for r in records if r is not None and not policy.destination_open(r, now_s, queued_at_s)]
            if len(closed) < len(records):
                return hosts, None
            return hosts, min(rec.next_try_s for rec in closed)
        open_hosts = []
        reopen_s = None
        for host in hosts:
            rec = states.get(host)
            if rec is None or policy.destination_open(rec, now_s, queued_at_s):
                open_hosts.append(host)
            elif reopen_s is None or rec.next_try_s < reopen_s:
                reopen_s = rec.next_try_s
        return (tuple(open_hosts), None) if open_hosts else (hosts, reopen_s)

    def _learn(self, rcpts: list[str], contacts: list[tuple[str, bool, float]]) -> None:
        """Update the destination state from an attempt's connections: (host, answered, when).

        ``postfix``: no host answered, so every domain of the recipients is dead now; a host
        that answered makes them alive. ``exim``: each host that did not answer gets (or
        extends) its retry record; one that answered loses it.
        """
        if not contacts:
            return
        policy, states = self.policy, self.destinations
        if policy.destination == "domain":
            answered = any(ok for _, ok, _ in contacts)
            for domain in {domain_of(r) for r in rcpts}:
                if answered:
                    states.pop(domain, None)
                else:
                    record = policy.destination_failed(states.get(domain), contacts[-1][2])
                    if record is not None:
                        states[domain] = record
            return
        for host, ok, when_s in contacts:
            if ok:
                states.pop(host, None)
            else:
                record = policy.destination_failed(states.get(host), when_s)
                if record is not None:
                    states[host] = record

    def _bounce_batch(self, message: Message, batch: list[tuple[str, str]], host: str, _event: Any = None) -> None:
        by_code: dict[str, list[str]] = {}
        for rcpt, code in batch:
            by_code.setdefault(code, []).append(rcpt)
        batch.clear()
        for code, rcpts in by_code.items():
            self.fail_permanently(message, tuple(rcpts), code, host=host)
        self.ctx.end.release()

    def _reply_lost(
        self, message: Message, rcpts: tuple[str, ...], hosts: tuple[str, ...], host: str, state: Retrying
    ) -> None:
        """An outage cut the session after ``host`` accepted but before the 250 got back: as far
        as this server knows the attempt failed, so it queues the recipients again (RFC 5321
        §4.5.3.2.6: a duplicate delivery will follow)."""
        ctx = self.ctx
        ctx.record("session_cut", message.id, self.name, f"host={host} accepted=yes")
        again = Retrying(state.queued_at_s, state.failures, state.first_failure_s, state.warned, CUT, state.record)
        self.enqueue(message, rcpts, hosts, again).start_soon()

    # ---- failures and notifications ----------------------------------------------------------

    def fail_permanently(
        self, message: Message, rcpts: tuple[str, ...], code: str, host: str = "", expired: bool = False
    ) -> None:
        """Give up on ``rcpts``: log each and tell the sender with one DSN (never for a DSN)."""
        ctx = self.ctx
        reason = "expired" if expired else "refused"
        dsn = self.send_dsn(message, rcpts, BOUNCE, code) if not message.is_dsn else None
        for rcpt in rcpts:
            detail = f"rcpt={rcpt} code={code} reason={reason} dsn={dsn or '-'}"
            ctx.record("bounced", message.id, self.name, detail + (f" host={host}" if host else ""))

    def send_dsn(self, message: Message, rcpts: tuple[str, ...], kind: str, code: str) -> str | None:
        """Create a bounce or delay warning to the original sender and route it from here."""
        if message.is_dsn or not message.sender:
            return None
        ctx = self.ctx
        author = f"MAILER-DAEMON@{self.name}"
        to = (message.sender,)
        size = DSN_BODY_BYTES + 60 * len(rcpts) + header_bytes(message.author, message.recipients)
        wire = header_bytes(author, to) + size
        dsn = Message(ctx.new_id("d"), kind, "", author, to, size, wire, ctx.env.now, about=message.id)
        log_created(ctx, dsn, self.name, f"code={code}")
        ctx.record("bounce_sent" if kind == BOUNCE else "warning_sent", message.id, self.name,
                       f"dsn={dsn.id} rcpts={','.join(rcpts)}")
        self.take(dsn, to)
        return dsn.id


def log_created(ctx: Context, message: Message, node: str, extra: str = "") -> None:
    """The record every table reads a message's envelope and sizes from."""
    detail = (
        f"kind={message.kind} from={message.author} sender={message.sender or '<>'} "
        f"to={','.join(message.recipients)} size={message.size_bytes} wire={message.wire_bytes}"
    )
    if message.about:
        detail += f" about={message.about}"
    if extra:
        detail += " " + extra
    ctx.append_record((ctx.clock(), "created", message.id, node, detail))


class Greylist:
    """postgrey's bookkeeping: when each (client, sender, recipient) triplet was first seen and
    when it first passed."""

    def __init__(self, spec: Any) -> None:
        self.delay_s: float = spec.delay_s
        self.retry_window_s: float = spec.retry_window_s
        self.max_age_s: float = spec.max_age_s
        self.first_seen: dict[tuple[str, str, str], float] = {}
        self.passed: dict[tuple[str, str, str], float] = {}

    def passes(self, client: str, sender: str, rcpt: str, now_s: float) -> bool:
        """True when this triplet may deliver now; records what it learns."""
        key = (client, sender, rcpt)
        last = self.passed.get(key)
        if last is not None:
            if now_s - last <= self.max_age_s:
                self.passed[key] = now_s
                return True
            del self.passed[key]  # known too long ago: it starts over
            self.first_seen[key] = now_s
            return False
        first = self.first_seen.get(key)
        if first is None or now_s - first > self.retry_window_s:
            self.first_seen[key] = now_s
            return False
        if now_s - first >= self.delay_s:
            self.passed[key] = now_s
            return True
        return False


class Slots:
    """A counting semaphore for outgoing sessions that costs no event when a slot is free.

    ``take()`` claims a slot at once if one is free; otherwise ``wait()`` gives an event that
    fires when a slot has been handed over (first come, first served). ``give()`` frees one.
    """

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.waiting: deque[simpy.Event] = deque()

    def take(self) -> bool:
        if self.busy < self.capacity and not self.waiting:
            self.busy += 1
            return True
        return False

    def wait(self) -> simpy.Event:
        event = self.env.event()
        self.waiting.append(event)
        return event

    def give(self) -> None:
        if self.waiting:
            self.waiting.popleft().succeed()  # the slot passes straight to the next in line
        else:
            self.busy -= 1


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

    __slots__ = ("batch", "code", "contacts", "followups", "handle", "host", "host_index", "hosts", "message",
                 "offered", "open_hosts", "path", "queued_at_s", "rcpts", "remaining", "server", "settled", "state",
                 "timer", "waiting")

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
            self.open_hosts, reopen_s = server._open_hosts(self.remaining, self.hosts, self.queued_at_s)
            if reopen_s is not None:  # its destination is closed: deferred without a connection
                ctx = server.ctx
                why = "dead" if server.policy.destination == "domain" else "retry_time"
                ctx.record("held", self.message.id, server.name,
                           f"rcpts={','.join(self.remaining)} hosts={','.join(self.hosts)} why={why} "
                           f"until={reopen_s!r}")
                self.code = CONNECT_FAILED
                self._failed(reopen_s)
                return
        if server.slots.take():
            self._attempt_now()
        else:
            server.slots.wait().callbacks.append(self._attempt)

    def _failed(self, reopen_s: float | None = None) -> None:
        code = self.code
        assert code is not None
        next_s = self.server._after_failure(self.message, self.remaining, code, self._retrying(), reopen_s)
        if next_s is None:
            self._end()
            return
        self.code = None
        env = self.server.ctx.env
        env.timeout(max(0.0, next_s - env.now)).callbacks.append(self._next)

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
            self.server.slots.give()
            self._next()
            return
        self._attempt_now()

    def _attempt_now(self) -> None:
        server = self.server
        ctx = server.ctx
        ctx.append_record((ctx.clock(), "attempt", self.message.id, server.name,
                           f"rcpts={','.join(self.remaining)} hosts={','.join(self.open_hosts)}"))
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
                timer = self.timer = ctx.env.timeout(server.connect_timeout_s)
                timer.callbacks.append(self._connect_failed)
                return
            self.offered = offered
            self.path = path
            exchange = SmtpExchange(ctx.env, ctx.net, path, remote, message, offered, server.name, self._refused,
                                    self._session_ended, False, server.eight_bit_mime)
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
        server.ctx.record("connect_failed", self.message.id, server.name, f"host={self.host} code={CONNECT_FAILED}")
        self.contacts.append((self.host, False, server.ctx.env.now))
        self._next_host()

    def _connect_cut(self) -> None:
        self.timer = None
        server = self.server
        server.ctx.record("session_cut", self.message.id, server.name, f"host={self.host} accepted=no")
        server.ctx.sessions.close(self.handle)
        self.handle = None
        self._attempt_over(CUT)

    def _refused(self, rcpt: str, reply: str) -> None:
        """Refusals learned at one moment make one bounce, sent at that moment."""
        self.settled.add(rcpt)
        batch = self.batch
        if not batch:
            batch = self.batch = []
            server = self.server
            server.ctx.end.hold()  # the run waits for the bounce, even if this job ends first
            server.ctx.env.timeout(0.0).callbacks.append(partial(server._bounce_batch, self.message, batch, self.host))
        batch.append((rcpt, reply))

    def _session_ended(self, result: SmtpExchange) -> None:
        server, message, host = self.server, self.message, self.host
        ctx = server.ctx
        sessions = ctx.sessions
        if sessions.enabled:
            sessions.close(self.handle)
            self.handle = None  # it refers to the exchange, which refers to this job
        if result.cut_off:
            ctx.record("session_cut", message.id, server.name, f"host={host} accepted=no")
            self._attempt_over(CUT)
            return
        self.contacts.append((host, True, ctx.clock()))
        if result.accepted:
            ctx.append_record((ctx.clock(), "sent", message.id, server.name,
                               f"host={host} rcpts={','.join(result.accepted)} code=250"))
            if result.followups:
                self.followups = self.followups + result.followups
            if sessions.enabled:
                sessions.tail(self.path, result.ack_at_s, partial(self._reply_lost, result.accepted, host))
            if len(result.accepted) == len(self.remaining):  # every recipient: the job is done
                self.code = smtp.OK
                server.slots.give()
                self._learn()
                self.remaining = []
                self._end()
                return
        self.settled.update(result.accepted)
        offered = self.offered
        self.waiting = [r for r in self.waiting if r not in offered]
        if result.deferred:
            self.code = code = result.deferred[0][1]
            deferred = ",".join(r for r, _ in result.deferred)
            ctx.record("rcpt_deferred", message.id, server.name, f"host={host} rcpts={deferred} code={code}")
        elif not self.waiting:
            self._attempt_over(smtp.OK)
            return
        self._next_host()

    def _learn(self) -> None:
        """The attempt's connections update the server's destination state (postfix, exim)."""
        server = self.server
        if server.policy.destination is not None:
            server._learn(self.remaining, self.contacts)

    def _reply_lost(self, rcpts: tuple[str, ...], host: str) -> None:
        self.server._reply_lost(self.message, rcpts, self.hosts, host, self._retrying())

    def _attempt_over(self, code: str) -> None:
        """The attempt is over with ``code``: its slot is free; the job goes on."""
        self.code = code
        self.server.slots.give()
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
    for job in jobs[1:]:
        job.start_soon()
    if jobs:
        jobs[0].start()
