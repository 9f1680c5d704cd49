"""Workload: Poisson senders drawing sizes, recipients and attachments, and scripted messages.

A traffic entry with rate ``r`` per sending user and ``N`` senders is one Poisson stream of
rate ``N*r`` whose events pick their sender uniformly: the same process as ``N`` independent
streams, at the cost of one. It stops creating messages at the scenario's ``duration``.
Each entry draws from its own named random stream, so adding one does not change the others.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
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

    Time: exponential gaps of mean ``1 / (rate * len(senders))``.
    """
    env = ctx.env
    total_rate = spec.rate_per_s * len(senders)
    try:
        if total_rate <= 0 or not targets:
            yield env.timeout(duration_s)
            return
        while True:
            gap = float(rng.exponential(1.0 / total_rate))
            if env.now + gap > duration_s:
                yield env.timeout(max(0.0, duration_s - env.now))  # the source lasts the whole traffic period
                return
            yield env.timeout(gap)
            sender = senders[int(rng.integers(len(senders)))]
            wanted = max(1, round(spec.recipients.sample(rng)))
            recipients = _pick(rng, targets, sender, wanted)
            if not recipients:
                continue
            text = max(0, round(spec.size.sample(rng)))
            attachments: tuple[int, ...] = ()
            att = spec.attachments
            if att is not None and rng.random() < att.probability:
                attachments = (max(1, round(att.size.sample(rng))),)
            eight_bit = spec.eight_bit > 0 and rng.random() < spec.eight_bit
            ctx.agents[sender].send(make_message(ctx, sender, recipients, text, attachments, origin, eight_bit))
    finally:
        ctx.source_ended()


def _pick(rng: np.random.Generator, choices: Sequence[str], sender: str, wanted: int) -> tuple[str, ...]:
    """``wanted`` distinct recipients other than the sender, in drawn order."""
    if len(choices) <= 64:
        pool = [c for c in choices if c != sender]
        if not pool:
            return ()
        idx = rng.choice(len(pool), size=min(wanted, len(pool)), replace=False)
        return tuple(pool[int(i)] for i in idx)
    wanted = min(wanted, len(choices) - 1)
    picked: dict[str, None] = {}
    while len(picked) < wanted:
        candidate = choices[int(rng.integers(len(choices)))]
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
