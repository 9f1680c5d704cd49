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
from collections.abc import Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

import simpy

from . import fast
from .context import Context
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
        self.down_count = 0  # overlapping outages holding it down
        self.up = True  # no outage holds it down (kept apart: read on every hop)
        self._back_up = ctx.env.event()

    # ---- state -----------------------------------------------------------------------------

    def go_down(self) -> None:
        self.down_count += 1
        self.up = False
        if self.down_count == 1:
            self._back_up = self.ctx.env.event()

    def come_up(self) -> None:
        self.down_count -= 1
        if self.down_count == 0:
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
        ctx.append_record((ctx.env._now, "accepted", message.id, self.name, f"from={client} rcpts={','.join(rcpts)}"))
        return self.take(message, rcpts, False)  # the jobs are returned, not started

    def take(self, message: Message, rcpts: tuple[str, ...], start: bool = True) -> list[Job]:
        """Deliver local recipients now; queue one job per destination for the rest.

        With ``start`` the jobs run as processes of their own; otherwise they are returned for
        the caller to run (see :func:`run_jobs`).
        """
        groups: dict[str, list[str]] = {}  # first MX host -> its rcpts
        for rcpt in rcpts:
            domain = domain_of(rcpt)
            if domain in self.domains:
                self.deliver_local(message, rcpt)
                continue
            hosts = self.mx_hosts(domain)
            if not hosts:
                self.fail_permanently(message, (rcpt,), LOOP)
                continue
            groups.setdefault(hosts[0], []).append(rcpt)  # one session per destination server
        if not groups:
            return []
        jobs = [self.enqueue(message, tuple(group), self._hosts_of(group)) for group in groups.values()]
        if start:
            for job in jobs:
                self.ctx.env.process(job.run())
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
        ctx.append_record((ctx.env._now, "delivered", message.id, self.name, "rcpt=" + rcpt))
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
            ctx.append_record((ctx.env._now, "enqueued", message.id, self.name, f"queue={len(self.queued)}"))
        ctx.busy += 1  # ctx.hold(): the job is queued
        return Job(self, message, rcpts, hosts, state)

    def _dequeue(self, message: Message) -> None:
        ctx = self.ctx
        left = self.queued[message.id] - 1
        if left:
            self.queued[message.id] = left
        else:
            del self.queued[message.id]
            ctx.append_record((ctx.env._now, "dequeued", message.id, self.name, f"queue={len(self.queued)}"))
        ctx.release()

    def _job(
        self, message: Message, rcpts: tuple[str, ...], hosts: tuple[str, ...], state: Retrying | None = None
    ) -> Generator[Any, Any, None]:
        """Deliver ``message`` to ``rcpts`` through ``hosts``: attempts, retries, give-up.

        Time: waits for the server to be up and for a free session slot, then the attempt's
        connects and SMTP exchange; between attempts, the retry policy's delay. An outage of
        this server or of the path interrupts the attempt in progress (a failed attempt).
        ``state`` resumes a job whose last attempt turned out to have failed (its final reply
        was cut off): the retry policy decides at once what happens next.
        When the job ends, it runs the jobs its deliveries created at the next server.
        """
        ctx, env = self.ctx, self.ctx.env
        st = state or Retrying(env.now)
        remaining = list(rcpts)
        followups: list[Job] = []
        code = st.code
        policy = self.policy
        while remaining:
            reopen_s: float | None = None  # set when the destination is closed: no attempt now
            if code is None:
                while not self.up:
                    yield self.back_up()
                open_hosts = hosts
                if policy.destination is not None and self.destinations:
                    open_hosts, reopen_s = self._open_hosts(remaining, hosts, st.queued_at_s)
                if reopen_s is not None:
                    code = CONNECT_FAILED
                    why = "dead" if policy.destination == "domain" else "retry_time"
                    ctx.record("held", message.id, self.name,
                               f"rcpts={','.join(remaining)} hosts={','.join(hosts)} why={why} until={reopen_s!r}")
                else:
                    if not self.slots.take():
                        yield self.slots.wait()
                    contacts: list[tuple[str, bool, float]] = []
                    try:
                        if not self.up:
                            continue
                        ctx.record("attempt", message.id, self.name,
                                   f"rcpts={','.join(remaining)} hosts={','.join(open_hosts)}")
                        done, code = yield from self._attempt(message, tuple(remaining), open_hosts, st, followups,
                                                              contacts)
                    finally:
                        self.slots.give()
                    if policy.destination is not None:
                        self._learn(remaining, contacts)
                    remaining = [r for r in remaining if r not in done]
                    if not remaining:
                        break
                    for job in followups:  # this job goes on retrying: the next server's jobs run apart
                        env.process(job.run())
                    followups = []
            st.failures += 1
            if st.failures == 1:
                st.first_failure_s = env.now
            if reopen_s is None:
                decision = policy.decide(env.now, st.queued_at_s, st.first_failure_s, st.failures, st.warned,
                                         st.record)
            else:
                decision = policy.decide_held(env.now, st.queued_at_s, st.first_failure_s, st.failures, st.warned,
                                              st.record, reopen_s)
            st.record = decision.record
            if decision.action == "bounce":
                self.fail_permanently(message, tuple(remaining), code, expired=True)
                break
            if decision.warn:
                st.warned = True
                self.send_dsn(message, tuple(remaining), WARNING, code)
            next_s = decision.next_attempt_s
            assert next_s is not None  # a retry always has a time
            ctx.record("deferred", message.id, self.name,
                           f"rcpts={','.join(remaining)} code={code} next={next_s!r}")
            code = None
            yield env.timeout(max(0.0, next_s - env.now))
        self._dequeue(message)
        yield from run_jobs(env, followups)

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

    def _attempt(
        self,
        message: Message,
        rcpts: tuple[str, ...],
        hosts: tuple[str, ...],
        state: Retrying,
        followups: list[Job],
        contacts: list[tuple[str, bool, float]] | None = None,
    ) -> Generator[Any, Any, tuple[set[str], str]]:
        """One delivery attempt over the MX hosts in order; returns (recipients settled, last code).

        ``hosts`` is the union of the recipients' MX lists (they share the first); each host is
        offered the recipients still waiting whose own list names it. A host that is down or
        unreachable costs ``connect_timeout`` and the next host is tried at once. A session that
        completes settles every recipient it accepted or refused; one it deferred waits for the
        next attempt. ``contacts``, when given, gets ``(host, answered, time)`` for each host that
        did not answer and each whose session completed.
        """
        ctx, env = self.ctx, self.ctx.env
        process = env.active_process
        assert process is not None
        code = CONNECT_FAILED
        settled: set[str] = set()

        batch: list[tuple[str, str]] = []

        def refused(rcpt: str, reply: str) -> None:
            """Refusals learned at one moment make one bounce, sent at that moment."""
            settled.add(rcpt)
            if not batch:
                ctx.hold()  # the run waits for the bounce, even if this job ends first
                env.timeout(0.0).callbacks.append(lambda _event, h=host: self._bounce_batch(message, batch, h))
            batch.append((rcpt, reply))

        waiting = list(rcpts)  # not yet offered to a host that answered
        for host in hosts:
            offered = tuple(r for r in waiting if host in self.mx_hosts(domain_of(r)))
            if not offered:
                continue
            server = ctx.servers[host]
            path = ctx.net.path(self.name, host)
            if path is None or not server.up:
                ctx.trace("smtp", self.name, host, message.id, t0=env.now, connect_failed=True,
                          timeout_s=self.connect_timeout_s)
                handle = ctx.sessions.open(process, None, endpoints=(self.name,))
                try:
                    yield env.timeout(self.connect_timeout_s)
                except simpy.Interrupt:
                    ctx.record("session_cut", message.id, self.name, f"host={host} accepted=no")
                    return settled, CUT
                finally:
                    ctx.sessions.close(handle)
                ctx.record("connect_failed", message.id, self.name, f"host={host} code={CONNECT_FAILED}")
                if contacts is not None:
                    contacts.append((host, False, env.now))
                continue
            handle = ctx.sessions.open(process, path)
            try:
                trace = ctx.trace("smtp", self.name, host, message.id)
                result = yield from smtp.session(env, ctx.net, path, server, message, offered, self.name, refused,
                                                 eight_bit_client=self.eight_bit_mime, trace=trace)
            finally:
                ctx.sessions.close(handle)
            if result.cut:
                ctx.record("session_cut", message.id, self.name, f"host={host} accepted=no")
                return settled, CUT
            if contacts is not None:
                contacts.append((host, True, env.now))
            if result.accepted:
                ctx.record("sent", message.id, self.name,
                               f"host={host} rcpts={','.join(result.accepted)} code=250")
                followups.extend(result.followups)
                ctx.sessions.tail(path, result.ack_at_s,
                                  partial(self._reply_lost, message, result.accepted, hosts, host, state))
            settled.update(result.accepted)
            waiting = [r for r in waiting if r not in offered]
            if result.deferred:
                code = result.deferred[0][1]
                deferred = ",".join(r for r, _ in result.deferred)
                detail = f"host={host} rcpts={deferred} code={code}"
                ctx.record("rcpt_deferred", message.id, self.name, detail)
            elif not waiting:
                return settled, smtp.OK
        return settled, code

    def _bounce_batch(self, message: Message, batch: list[tuple[str, str]], host: str) -> None:
        by_code: dict[str, list[str]] = {}
        for rcpt, code in batch:
            by_code.setdefault(code, []).append(rcpt)
        batch.clear()
        for code, rcpts in by_code.items():
            self.fail_permanently(message, tuple(rcpts), code, host=host)
        self.ctx.release()

    def _reply_lost(
        self, message: Message, rcpts: tuple[str, ...], hosts: tuple[str, ...], host: str, state: Retrying
    ) -> None:
        """An outage cut the session after ``host`` accepted but before the 250 got back: as far
        as this server knows the attempt failed, so it queues the recipients again (RFC 5321
        §4.5.3.2.6: a duplicate delivery will follow)."""
        ctx = self.ctx
        ctx.record("session_cut", message.id, self.name, f"host={host} accepted=yes")
        again = Retrying(state.queued_at_s, state.failures, state.first_failure_s, state.warned, CUT, state.record)
        ctx.env.process(self.enqueue(message, rcpts, hosts, again).run())

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
    ctx.append_record((ctx.env._now, "created", message.id, node, detail))


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
    """A delivery job in a server's queue: a message, the recipients it is for, their MX hosts."""

    __slots__ = ("hosts", "message", "rcpts", "server", "state")

    def __init__(
        self, server: MailServer, message: Message, rcpts: tuple[str, ...], hosts: tuple[str, ...],
        state: Retrying | None,
    ) -> None:
        self.server = server
        self.message = message
        self.rcpts = rcpts
        self.hosts = hosts
        self.state = state

    def run(self) -> Generator[Any, Any, None]:
        """The job as a process body (attempts, retries, give-up)."""
        return self.server._job(self.message, self.rcpts, self.hosts, self.state)

    def start(self) -> None:
        """Start the job now, outside any process: on the fast path if it can, else as a process."""
        if not fast.try_relay(self):
            self.server.ctx.env.process(self.run())


@dataclass(slots=True)
class Retrying:
    """Where a delivery job stands with the retry policy."""

    queued_at_s: float
    failures: int = 0
    first_failure_s: float = 0.0
    warned: bool = False
    code: str | None = None  # a failure to act on before the next attempt
    record: TryRecord | None = None  # the policy's retry record for the job (exim)


def run_jobs(env: simpy.Environment, jobs: list[Job]) -> Generator[Any, Any, None]:
    """Run delivery jobs from the calling process: the first one in it, the others apart.

    A process that has just handed a message to a server goes on as that server's delivery
    job, rather than the server starting a process of its own: one process per message hop
    chain instead of one per hop.
    """
    for job in jobs[1:]:
        env.process(job.run())
    if jobs:
        yield from jobs[0].run()
