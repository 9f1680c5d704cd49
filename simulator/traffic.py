"""Workload: Poisson senders drawing sizes, recipients and attachments, and scripted messages.

A traffic entry with rate ``r`` per sending user and ``N`` senders is one Poisson stream of
rate ``N*r`` whose events pick their sender uniformly: the same process as ``N`` independent
streams, at the cost of one. It stops creating messages at the scenario's ``duration``.
Each entry draws from its own named random stream, so adding one does not change the others.
An entry whose rate changes over time (``daily`` or ``steps``) draws its arrival times from a
second stream of its own by inversion of the cumulative rate (:mod:`simulator.profiles`); its
messages' contents come from the entry's stream as with a constant rate.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, cast

import numpy as np

from . import kernel
from .message import MAIL, Message, quoted_printable_bytes, wire_bytes
from .profiles import Arrivals
from .randomness import buffered
from .wiring import Composing, TrafficWiring


def make_message(
    ctx: Composing,
    sender: str,
    recipients: tuple[str, ...],
    text_bytes: int,
    attachments: tuple[int, ...] = (),
    origin: int = -1,
    eight_bit: bool = False,
) -> Message:
    """A new user message, timestamped now; ``origin`` is the traffic entry that made it."""
    size = text_bytes + sum(attachments)
    wire = wire_bytes(sender, recipients, text_bytes, attachments)
    wire_7bit = wire - text_bytes + quoted_printable_bytes(text_bytes) if eight_bit else 0
    # Positional, in field order (about, text_bytes, attachments, origin, eight_bit, wire_7bit_bytes
    # after the envelope): half the cost of keywords, once per message.
    return Message(ctx.new_id(), MAIL, sender, sender, recipients, size, wire, ctx.clock(),
                   "", text_bytes, attachments, origin, eight_bit, wire_7bit)


class PoissonSource:
    """Creates messages from ``senders`` to ``targets`` until ``duration_s``, from timer callbacks.

    Time: exponential gaps of mean ``1 / (rate * len(senders))``. Each quantity (gaps, senders,
    recipients, sizes, attachments) is drawn from the entry's stream in blocks, in that order.
    A rate that changes over time instead takes unit exponentials from ``arrivals_rng`` and
    inverts the cumulative rate of all the senders together (see :mod:`simulator.profiles`).
    The source needs no process: its arrivals are one timer set again and again (a
    :class:`~simulator.kernel.Alarm`, so an arrival makes no timeout), whose callback sends a
    message and sets the next one; a last timer at ``duration_s`` ends it (the source lasts the
    whole period).
    """

    def __init__(
        self,
        ctx: TrafficWiring,
        spec: Any,
        senders: Sequence[str],
        targets: Sequence[str],
        duration_s: float,
        rng: np.random.Generator,
        origin: int = -1,
        arrivals_rng: np.random.Generator | None = None,
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self.senders = senders
        self.targets = targets
        self.duration_s = duration_s
        self.origin = origin
        profile = spec.profile()
        if profile is None:
            self.total_rate_per_s = total_rate = spec.rate_per_s * len(senders)
            self.gap = buffered(lambda n: rng.exponential(1.0 / total_rate, size=n))
        else:
            if arrivals_rng is None:
                raise ValueError("a rate that changes over time draws its arrivals from arrivals_rng: give one")
            self.total_rate_per_s = profile.max_rate_per_s * len(senders)
            unit = buffered(arrivals_rng.standard_exponential)
            self.gap = Arrivals(profile.scaled(len(senders)), unit, ctx.clock).gap
        self.uniform = buffered(lambda n: rng.random(size=n))
        self.count = _whole_draws(lambda n: spec.recipients.sample_many(rng, n), 1)
        self.text = _whole_draws(lambda n: spec.size.sample_many(rng, n), 0)
        att = spec.attachments
        self.att_size = _whole_draws(lambda n: att.size.sample_many(rng, n), 1) if att is not None else None
        self.att_probability = att.probability if att is not None else 0.0
        self.eight_bit = spec.eight_bit
        self.env = ctx.env
        self.clock = ctx.clock
        self._arrival = kernel.Alarm(self.env, self._arrive)  # the next arrival's timer

    def start(self) -> None:
        """Set the first arrival (or, with nothing to send, just the end)."""
        if self.total_rate_per_s <= 0 or not self.targets:
            self._at(self.duration_s, self._end)
        else:
            self._next()

    def _at(self, at_s: float, then: Callable[[Any], None]) -> None:
        kernel.timer(self.env, max(0.0, at_s - self.env.now), then)

    def _next(self) -> None:
        wait = self.gap()
        if self.clock() + wait > self.duration_s:
            self._at(self.duration_s, self._end)
        else:
            self._arrival.set(wait)

    def _arrive(self, _event: Any) -> None:
        """One arrival: draw the message and send it, then set the next arrival."""
        uniform, senders = self.uniform, self.senders
        sender = senders[int(uniform() * len(senders))]
        recipients = _pick(uniform, self.targets, sender, self.count())
        if recipients:
            size = self.text()
            attachments: tuple[int, ...] = ()
            att_size = self.att_size
            if att_size is not None and uniform() < self.att_probability:
                attachments = (att_size(),)
            eight_bit = self.eight_bit > 0 and uniform() < self.eight_bit
            message = make_message(self.ctx, sender, recipients, size, attachments, self.origin, eight_bit)
            self.ctx.agents[sender].send(message)
        self._next()

    def _end(self, _event: Any) -> None:
        self.ctx.end.source_ended()


def _whole_draws(produce: Callable[[int], np.ndarray], least: int) -> Callable[[], int]:
    """Draws from ``produce(n)`` rounded to whole numbers and kept at least ``least``, handed out
    one at a time. They are rounded a block at a time (``np.rint`` rounds half to even, exactly
    as ``round`` does), so an arrival calls neither ``round`` nor ``max`` for its counts and sizes."""
    return cast(Callable[[], int], buffered(lambda n: np.maximum(np.rint(produce(n)), least).astype(np.int64)))


def _pick(uniform: Callable[[], float], targets: Sequence[str], sender: str, wanted: int) -> tuple[str, ...]:
    """``wanted`` distinct recipients other than the sender (fewer if there are not enough)."""
    n = len(targets)
    if wanted == 1 and n > 1:
        while True:
            candidate = targets[int(uniform() * n)]
            if candidate != sender:
                return (candidate,)
    available = len(targets) - (1 if sender in targets else 0) if len(targets) <= 64 else len(targets) - 1
    wanted = min(wanted, available)
    picked: dict[str, None] = {}
    n = len(targets)
    while len(picked) < wanted:
        candidate = targets[int(uniform() * n)]
        if candidate != sender:
            picked[candidate] = None
    return tuple(picked)


def scripted(ctx: TrafficWiring, messages: Sequence[Any]) -> Generator[Any, Any, None]:
    """Send each scripted message at its time, in time order (file order among equal times)."""
    env = ctx.env
    try:
        for spec in sorted(messages, key=lambda m: m.at_s):
            if spec.at_s > env.now:
                yield env.timeout(spec.at_s - env.now)
            attachments = (spec.attachment_bytes,) if spec.attachment_bytes else ()
            message = make_message(ctx, spec.from_, tuple(spec.to), spec.size_bytes, attachments,
                                   eight_bit=spec.eight_bit)
            ctx.agents[spec.from_].send(message)
    finally:
        ctx.end.source_ended()
