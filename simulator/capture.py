"""Which messages a traced run records: the IDs given to ``--capture-messages``, checked.

Message IDs are ``m<N>`` (a user's message) and ``d<N>`` (a DSN), numbered in creation order,
so which ones a run has is known only once it has run. Text that cannot be an ID at all is
refused before simulating (:func:`parse_message_ids`); IDs the run did not create are found
after it, before anything is written (:func:`unknown_message_ids`). Nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .eventlog import Record

__all__ = ["describe_ids", "parse_message_ids", "unknown_message_ids"]

_MESSAGE_ID = re.compile(r"[md][1-9][0-9]*")


def parse_message_ids(text: str) -> list[str]:
    """``"m1, m2,d7"`` -> ``["m1", "m2", "d7"]`` (each once, in the order given).

    Raises ValueError when there is no ID, or for items that are not of the form m<N> or d<N>.
    """
    ids = list(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
    if not ids:
        raise ValueError("needs at least one message id (ID,ID,...)")
    bad = [i for i in ids if not _MESSAGE_ID.fullmatch(i)]
    if bad:
        raise ValueError(f"{_quoted(bad)} {'is not a message id' if len(bad) == 1 else 'are not message ids'}: "
                         "ids are m<N> for a user's message and d<N> for a DSN, as in deliveries.csv")
    return ids


def unknown_message_ids(records: Iterable[Record], ids: Sequence[str]) -> list[str]:
    """The ``ids`` no ``created`` record of the run names, in the order given."""
    created = {mid for _t, event, mid, _node, _detail in records if event == "created"}
    return [i for i in ids if i not in created]


def describe_ids(records: Iterable[Record]) -> str:
    """What a run's IDs were, for an error message: ``"40 messages, m1 to m52, and 12 DSNs, d3 to d49"``."""
    numbers: dict[str, list[int]] = {"m": [], "d": []}
    for _t, event, mid, _node, _detail in records:
        if event == "created" and mid[:1] in numbers:
            numbers[mid[0]].append(int(mid[1:]))
    parts = []
    for kind, what in (("m", "message"), ("d", "DSN")):
        found = numbers[kind]
        if len(found) == 1:
            parts.append(f"1 {what}, {kind}{found[0]}")
        elif found:
            parts.append(f"{len(found)} {what}s, {kind}{min(found)} to {kind}{max(found)}")
    return ", and ".join(parts) or "no message"


def _quoted(items: Sequence[str]) -> str:
    return ", ".join(repr(i) for i in items)
