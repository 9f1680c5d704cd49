"""A mail server: it accepts mail, delivers it to mailboxes, and relays the rest from its queue.

A message the server accepts is split by recipient: those whose mailboxes it holds are
delivered at once; the others are grouped by destination (the MX hosts of their domain) and
each group becomes a delivery job in the durable outgoing queue (the job's attempts are in
:mod:`simulator.delivery`). After a failed attempt the retry policy decides: retry later, or
give up, and the sender gets a bounce (an RFC 3464 DSN from ``MAILER-DAEMON@<server>`` with
the null sender). A DSN that fails is never bounced. The server holds the destination state of
the policies that have one (``postfix``, ``exim``; see :mod:`simulator.destinations`).

Capacity limits, each off unless the scenario sets it, live in modules of their own: the
processing stage between acceptance and delivery (:mod:`simulator.workers`), the inbound limits
and their refusals (:mod:`simulator.admission`), and the slots per destination
(:mod:`simulator.slots`).

While the server is down it answers nobody, its sessions are cut, and its queue waits: jobs
resume when it comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from .addresses import domain_of
from .admission import admission_for
from .delivery import CUT, Job, Retrying
from .greylist import Greylist
from .mailbox import Mailbox
from .message import BOUNCE, DSN_BODY_BYTES, WARNING, Message, header_bytes
from .protocols import smtp
from .retry import TryRecord, make_policy
from .slots import DestinationSlots, Slots
from .wiring import Recorder, ServerWiring

if TYPE_CHECKING:
    from .lists import Expansions
    from .workers import Workers

GREYLISTED = "450"  # 450 4.7.1: try again later
UNKNOWN_USER = "550"
RELAY_DENIED = "554"
LOOP = "554"


class MailServer:
    """One MTA: mailboxes for its domains, relay for others, an outgoing queue."""

    def __init__(self, ctx: ServerWiring, spec: Any) -> None:
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
        self.inbound = ctx.net.bins.levels()  # open inbound SMTP sessions, the maximum per time bin
        self.destinations: dict[str, TryRecord] = {}  # domain (postfix) or host (exim) -> its failure state
        self.queued: dict[str, int] = {}  # message id -> its jobs still in this queue
        self.admission = admission_for(ctx, spec, self.queued, self.inbound)  # None: no inbound limit
        self.workers: Workers | None = None  # the processing stage, if any (the world sets it)
        self.destination_slots = (None if spec.destination_concurrency is None
                                  else DestinationSlots(ctx.env, spec.destination_concurrency))
        self._mx: dict[str, tuple[str, ...]] = {}  # domain -> MX hosts as seen from here (DNS is static)
        self.expansions: Expansions | None = None  # its mailing lists and aliases (simulator.lists), if any
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
            if rcpt not in self.mailboxes and (self.expansions is None or rcpt not in self.expansions.addresses):
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
        ctx.append_record((ctx.clock(), "accepted", message.id, self.name, (client, rcpts)))
        if self.workers is not None:
            self.workers.admit(message, rcpts)  # taken once processed
            return []
        return self.take(message, rcpts, False)  # the jobs are returned, not started

    def take(self, message: Message, rcpts: tuple[str, ...], start: bool = True) -> list[Job]:
        """Deliver local recipients now; queue one job per destination for the rest; expand the
        server's lists and aliases among them (:mod:`simulator.lists`).

        With ``start`` the jobs start in steps of their own; otherwise they are returned for the
        caller to run (see :func:`simulator.delivery.start_jobs`).
        """
        expansions = self.expansions
        if expansions is not None and not expansions.addresses.isdisjoint(rcpts):
            return expansions.take(message, rcpts, start)
        return self.route(message, rcpts, start)

    def route(self, message: Message, rcpts: tuple[str, ...], start: bool = True) -> list[Job]:
        """:meth:`take` for recipients that are no list or alias of this server."""
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
        if mailbox.had(message):
            ctx.record("duplicate", message.id, self.name, (rcpt,))
            return
        ctx.append_record((ctx.clock(), "delivered", message.id, self.name, (rcpt,)))
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
            ctx.append_record((ctx.clock(), "enqueued", message.id, self.name, (len(self.queued),)))
        ctx.end.hold()  # the job is queued
        return Job(self, message, rcpts, hosts, state)

    def _dequeue(self, message: Message) -> None:
        ctx = self.ctx
        left = self.queued[message.id] - 1
        if left:
            self.queued[message.id] = left
        else:
            del self.queued[message.id]
            ctx.append_record((ctx.clock(), "dequeued", message.id, self.name, (len(self.queued),)))
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
        ctx.record("deferred", message.id, self.name, (tuple(remaining), code, next_s))
        return next_s

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
        ctx.record("session_cut", message.id, self.name, (host, True))
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
            ctx.record("bounced", message.id, self.name, (rcpt, code, reason, dsn or "-", host or None))

    def send_dsn(self, message: Message, rcpts: tuple[str, ...], kind: str, code: str) -> str | None:
        """Create a bounce or delay warning to the original sender and route it from here."""
        if message.is_dsn or not message.sender:
            return None
        ctx = self.ctx
        author = f"MAILER-DAEMON@{self.name}"
        to = (message.sender,)
        size = DSN_BODY_BYTES + 60 * len(rcpts) + header_bytes(message.author, message.header_recipients)
        wire = header_bytes(author, to) + size
        dsn = Message(ctx.new_id("d"), kind, "", author, to, size, wire, ctx.env.now, about=message.id)
        log_created(ctx, dsn, self.name, code)
        ctx.record("bounce_sent" if kind == BOUNCE else "warning_sent", message.id, self.name, (dsn.id, rcpts))
        self.take(dsn, to)
        return dsn.id


def log_created(ctx: Recorder, message: Message, node: str, code: str | None = None) -> None:
    """The record every table reads a message's envelope and sizes from (``code``: for a DSN,
    the failure that caused it)."""
    ctx.append_record((ctx.clock(), "created", message.id, node,
                       (message.kind, message.author, message.sender or "<>", tuple(message.recipients),
                        message.size_bytes, message.wire_bytes, message.about or None, code)))
