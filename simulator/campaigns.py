"""Campaigns at run time: who receives each campaign's message, drawn before time 0.

The selection is every user the campaign's ``to`` names, in the order of the ``users`` section
(each address once), without the sender. With ``count``, a uniform random subset of that many is
drawn without replacement from the campaign's own stream (``campaign.<index>``) and kept in
selection order. The message itself goes out like a scripted message (see :func:`simulator.traffic.scripted`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .scenario.campaigns import CampaignSpec
from .scenario.traffic import ScriptedMessage

__all__ = ["as_scripted", "recipients"]


def recipients(selection: Sequence[str], sender: str, count: int | None, rng: np.random.Generator) -> tuple[str, ...]:
    """The recipients of a campaign from ``sender`` to ``selection`` (``count`` of them, or all)."""
    chosen = [address for address in dict.fromkeys(selection) if address != sender]
    if count is None or count >= len(chosen):
        return tuple(chosen)
    picked = np.sort(rng.choice(len(chosen), size=count, replace=False))
    return tuple(chosen[int(index)] for index in picked)


def as_scripted(campaigns: Sequence[CampaignSpec], select: Callable[[str], Sequence[str]],
                stream: Callable[[str], np.random.Generator]) -> list[ScriptedMessage]:
    """Each campaign as the scripted message it sends: its recipients drawn (``select`` names the
    users of a selector, ``stream`` gives a named random stream)."""
    messages: list[ScriptedMessage] = []
    for i, campaign in enumerate(campaigns):
        selection = [address for selector in campaign.to for address in select(selector)]
        to = recipients(selection, campaign.from_, campaign.count, stream(f"campaign.{i}"))
        messages.append(ScriptedMessage.model_construct(
            at_s=campaign.at_s, from_=campaign.from_, to=to, size_bytes=campaign.size_bytes,
            attachment_bytes=campaign.attachment_bytes, eight_bit=campaign.eight_bit))
    return messages
