"""Workload: Poisson senders drawing sizes, recipients and attachments, and scripted messages.

A traffic entry with rate ``r`` per sending user and ``N`` senders is one Poisson stream of
rate ``N*r`` whose events pick their sender uniformly: the same process as ``N`` independent
streams, at the cost of one. It stops creating messages at the scenario's ``duration``.
Each entry draws from its own named random stream, so adding one does not change the others.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from .context import Context
from .message import MAIL, Message, quoted_printable_bytes, wire_bytes


def make_message(
    ctx: Context,
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
    return Message(ctx.new_id(), MAIL, sender, sender, recipients, size, wire, ctx.env.now,
                   text_bytes=text_bytes, attachments=attachments, origin=origin,
                   eight_bit=eight_bit, wire_7bit_bytes=wire_7bit)


BLOCK = 512  # random draws are made this many at a time: one numpy call instead of hundreds


class Buffered:
    """Draws from ``produce(n)`` handed out one at a time, refilled ``BLOCK`` at a time."""

    __slots__ = ("_i", "_produce", "_values")

    def __init__(self, produce: Callable[[int], np.ndarray]) -> None:
        self._produce = produce
        self._values: list[float] = []
        self._i = BLOCK

    def __call__(self) -> float:
        i = self._i
        if i == BLOCK:
            self._values = self._produce(BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._values[i]


def poisson_sender(
    ctx: Context,
    spec: Any,
    senders: Sequence[str],
    targets: Sequence[str],
    duration_s: float,
    rng: np.random.Generator,
    origin: int = -1,
) -> Generator[Any, Any, None]:
    """Create messages from ``senders`` to ``targets`` until ``duration_s``.

    Time: exponential gaps of mean ``1 / (rate * len(senders))``. Each quantity (gaps, senders,
    recipients, sizes, attachments) is drawn from the entry's stream in blocks, in that order.
    """
    env = ctx.env
    total_rate = spec.rate_per_s * len(senders)
    try:
        if total_rate <= 0 or not targets:
            yield env.timeout(duration_s)
            return
        gap = Buffered(lambda n: rng.exponential(1.0 / total_rate, size=n))
        uniform = Buffered(lambda n: rng.random(size=n))
        count = Buffered(lambda n: spec.recipients.sample_many(rng, n))
        text = Buffered(lambda n: spec.size.sample_many(rng, n))
        att = spec.attachments
        att_size = Buffered(lambda n: att.size.sample_many(rng, n)) if att is not None else None
        n_senders, agents = len(senders), ctx.agents
        while True:
            wait = gap()
            if env.now + wait > duration_s:
                yield env.timeout(max(0.0, duration_s - env.now))  # the source lasts the whole traffic period
                return
            yield env.timeout(wait)
            sender = senders[int(uniform() * n_senders)]
            recipients = _pick(uniform, targets, sender, max(1, round(count())))
            if not recipients:
                continue
            size = max(0, round(text()))
            attachments: tuple[int, ...] = ()
            if att_size is not None and uniform() < att.probability:
                attachments = (max(1, round(att_size())),)
            eight_bit = spec.eight_bit > 0 and uniform() < spec.eight_bit
            agents[sender].send(make_message(ctx, sender, recipients, size, attachments, origin, eight_bit))
    finally:
        ctx.source_ended()


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


def scripted(ctx: Context, messages: Sequence[Any]) -> Generator[Any, Any, None]:
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
        ctx.source_ended()
