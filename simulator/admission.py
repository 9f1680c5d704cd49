"""What a receiving server lets in: ``max_inbound`` open sessions, a ``rate_limit`` per client and
a ``queue_limit`` on its outgoing queue, and the refusals they cause.

The server decides as the session opens (as it decides greylisting), in this order:

1. ``max_inbound``: with that many inbound sessions open, ``421 4.3.2`` at the greeting;
2. ``rate_limit`` with ``reply: connect``: a client over its limit gets ``421 4.7.0`` at the greeting;
3. ``queue_limit``: with that many messages in the outgoing queue, ``452 4.3.1`` to MAIL FROM;
4. ``rate_limit`` with ``reply: rcpt``: a client over its limit gets ``450 4.7.1`` to every RCPT.

A session refused at the greeting never opens; any other is open from its start until the server
accepts the message, the client has learned the last refusal, or an outage cuts it. Every refusal
is logged (``refused``, at the server, with the client, the reply and the limit that caused it).
Every refusal is temporary: the client tries the next MX host (greeting) or defers the recipients
(MAIL, RCPT), then retries by its policy.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .binning import LevelSeries
from .throttle import RateLimit
from .wiring import Recorder

GREETING = "greeting"
MAIL = "mail"
RCPT = "rcpt"


class Refusal(NamedTuple):
    """A limit's answer: at which stage, with which reply (code, enhanced status, text), and why."""

    stage: str
    code: str
    status: str
    why: str
    text: str


TOO_MANY_SESSIONS = Refusal(GREETING, "421", "4.3.2", "max_inbound", "All server ports are busy")
THROTTLED_AT_CONNECT = Refusal(GREETING, "421", "4.7.0", "rate_limit",
                               "Error: too many messages from this client, try again later")
QUEUE_FULL = Refusal(MAIL, "452", "4.3.1", "queue_limit", "Insufficient system storage")
THROTTLED_AT_RCPT = Refusal(RCPT, "450", "4.7.1", "rate_limit",
                            "Recipient address rejected: too many messages from this client, try again later")


class Admission:
    """One server's inbound limits, read against its count of open inbound sessions."""

    __slots__ = ("ctx", "inbound", "max_inbound", "node", "queue", "queue_limit", "rate", "rate_at_rcpt")

    def __init__(
        self, ctx: Recorder, node: str, queue: dict[str, int], inbound: LevelSeries, max_inbound: int | None = None,
        rate: RateLimit | None = None, rate_at_rcpt: bool = False, queue_limit: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.node = node
        self.queue = queue  # the server's outgoing queue: message id -> its jobs
        self.max_inbound = max_inbound
        self.rate = rate
        self.rate_at_rcpt = rate_at_rcpt
        self.queue_limit = queue_limit
        self.inbound = inbound  # the server's open inbound sessions (its exchanges open and close them)

    def session(self, message_id: str, client: str) -> Refusal | None:
        """A session from ``client`` opens now: the refusal it gets, or None. A session that is not
        refused at the greeting is counted open by its exchange until it ends."""
        now_s = self.ctx.clock()
        rate = self.rate
        if self.max_inbound is not None and self.inbound.level >= self.max_inbound:
            return self._refuse(TOO_MANY_SESSIONS, message_id, client)
        if rate is not None and not self.rate_at_rcpt and not rate.admit(client, now_s):
            return self._refuse(THROTTLED_AT_CONNECT, message_id, client)
        if self.queue_limit is not None and len(self.queue) >= self.queue_limit:
            return self._refuse(QUEUE_FULL, message_id, client)
        if rate is not None and self.rate_at_rcpt and not rate.admit(client, now_s):
            return self._refuse(THROTTLED_AT_RCPT, message_id, client)
        return None

    def _refuse(self, refusal: Refusal, message_id: str, client: str) -> Refusal:
        self.ctx.record("refused", message_id, self.node, (client, refusal.code, refusal.status, refusal.why))
        return refusal


def admission_for(ctx: Recorder, spec: Any, queue: dict[str, int], inbound: LevelSeries) -> Admission | None:
    """The admission of a server with ``spec``, or None when it sets no inbound limit."""
    rate_spec = spec.rate_limit
    if spec.max_inbound is None and rate_spec is None and spec.queue_limit is None:
        return None
    rate = None if rate_spec is None else RateLimit(rate_spec.messages, rate_spec.per_s)
    return Admission(ctx, spec.name, queue, inbound, spec.max_inbound, rate,
                     rate_spec is not None and rate_spec.reply == "rcpt", spec.queue_limit)
