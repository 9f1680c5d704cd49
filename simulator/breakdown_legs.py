"""The split of a leg's time (queue wait, worker wait, processing, transfer), computed for many
legs at once with numpy: the walk of :func:`simulator.breakdown.time_breakdown`, one hop of every
leg per step.

A leg is one message's part of a mail pair's path: the pair's own message, or, for a list's
copy, the message it copies (see :func:`simulator.breakdown.time_breakdown` for the rule). The
chain records (acceptances, attempts, failed connections and submissions, processing) are read
once, a field at a time, and sorted by message (a stable sort, so each message's records stay in
log order): their positions, times as doubles, kinds and nodes as their numbers in the log's
tables, about 18 bytes a record. A batch of legs (:data:`BATCH_LEGS`) is given its messages'
records as rows (a record read by two legs is two rows), and each rule of the walk is a mask over
the rows reduced per leg: the latest acceptance before a time, the first processing record of a
stage, the last attempt of a session. Every leg of the batch takes its hops in step, and leaves
the step where its walk ends; the floats are the walk's own (the same subtractions and
additions, in the same order). The Python work left is a few calls a kind of record per batch
(reading the recipients, where an acceptance came from, when a failed submission is retried,
each a ``map`` of C functions): no Python step per record, but for the legs an alias led to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, count
from operator import contains, itemgetter
from typing import Any

import numpy as np

from .eventkinds import index
from .logcolumns import EVENT, MESSAGE_ID, NODE, TIME, VALUES, LogColumns, take

__all__ = ["CHAIN_EVENTS", "NO_TIME", "Legs", "split_legs"]

CHAIN_EVENTS = ("accepted", "attempt", "connect_failed", "submit_failed", "processing", "processed")
"""The kinds of record a leg's walk reads."""
_RCPTS = {"accepted": index("accepted", "rcpts"), "attempt": index("attempt", "rcpts"),
          "processing": index("processing", "rcpts"), "processed": index("processed", "rcpts")}
"""Where each chain record with recipients holds them."""
_FROM = index("accepted", "from")
_NEXT = index("submit_failed", "next")
BATCH_LEGS = 2048
"""Legs walked together: their rows (about 2.5 a leg, some 60 bytes each while walked) bound the
memory. Twice as many took about as long at 100k messages (0.28 to 0.29 s of CPU against 0.30 to
0.31 s) and held more at 10k (a tracemalloc peak of 3.4 MB against 2.8 MB)."""


NO_TIME = float("nan")
"""A leg's ``made_s`` when it is not a list's copy."""


@dataclass(slots=True)
class Legs:
    """Legs to split, a list per attribute (one item a leg)."""

    message_ids: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    aliases: dict[int, frozenset[str]] = field(default_factory=dict)
    """Of the legs whose recipient an alias added (few): the recipient's address and those of the
    aliases that led to it, by leg."""
    submitted_s: list[float] = field(default_factory=list)
    """When the leg starts: the pair's submission, or when a list made the copy."""
    delivered_s: list[float] = field(default_factory=list)
    made_s: list[float] = field(default_factory=list)
    """When a list made this copy (nan if the leg is not a list's copy): an acceptance there from
    nowhere, before the message's own records."""
    made_at: list[str] = field(default_factory=list)
    """The list's server ("" if the leg is not a list's copy)."""

    def add(self, message_id: str, names: Sequence[str], submitted_s: float, delivered_s: float,
            made: tuple[float, str] | None = None) -> None:
        """Add a leg; ``names``: the recipient's address, then those of the aliases that led to it."""
        if len(names) > 1:
            self.aliases[len(self.message_ids)] = frozenset(names)
        self.message_ids.append(message_id)
        self.recipients.append(names[0])
        self.submitted_s.append(submitted_s)
        self.delivered_s.append(delivered_s)
        self.made_s.append(NO_TIME if made is None else made[0])
        self.made_at.append("" if made is None else made[1])


def split_legs(log: LogColumns, legs: Legs) -> tuple[Any, Any, Any, Any]:
    """(queue wait, worker wait, processing, transfer) of each leg, as four float arrays."""
    records = _Chain(log, legs.message_ids)
    parts = [_Batch(records, log, legs, start, min(start + BATCH_LEGS, len(legs.message_ids))).split()
             for start in range(0, len(legs.message_ids), BATCH_LEGS)]
    if not parts:
        return tuple(np.zeros(0) for _ in range(4))  # type: ignore[return-value]
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(4))  # type: ignore[return-value]


class _Chain:
    """The chain records of the log sorted by message, each message's in log order: those of
    ``message_ids[i]`` are ``starts[i]`` to ``stops[i]``."""

    def __init__(self, log: LogColumns, message_ids: Sequence[str]) -> None:
        positions = log.positions(*CHAIN_EVENTS)
        recorded = len(positions)
        # each message id numbered by where it first comes among the records' ids and those asked for
        first_seen: dict[str, int] = {}
        ids = chain(log.array_at(MESSAGE_ID, positions), message_ids)
        numbers = np.fromiter(map(first_seen.setdefault, ids, count()), dtype=np.intp,
                              count=recorded + len(message_ids))
        del first_seen
        order = np.argsort(numbers[:recorded], kind="stable")
        by_message = numbers[:recorded][order]
        self.starts = np.searchsorted(by_message, numbers[recorded:], side="left")
        self.stops = np.searchsorted(by_message, numbers[recorded:], side="right")
        del numbers, by_message
        self.positions = positions[order]
        del order, positions
        self.times = np.asarray(log.array_at(TIME, self.positions), dtype=np.float64)
        self.kinds, kind_names = log.codes_at(EVENT, self.positions)
        self.nodes, node_names = log.codes_at(NODE, self.positions)
        self.kind_number = {name: code for code, name in enumerate(kind_names)}
        self.node_number = {name: code for code, name in enumerate(node_names)}
        """Node names by number, with numbers for names the records' values hold beside (a client that logs nothing)."""

    def node_numbers(self, names: Sequence[str]) -> list[int]:
        """The numbers of node ``names``, numbering those the table does not have yet."""
        number = self.node_number
        try:
            return take(number, names)
        except KeyError:  # a client that logs nothing, the "" a list's copy comes from
            for name in names:
                number.setdefault(name, len(number))
            return take(number, names)


class _Batch:
    """Legs ``start`` to ``stop`` with their messages' records as rows (grouped by leg, each leg's
    in log order), and the walk's rules as masks over the rows."""

    def __init__(self, records: _Chain, log: LogColumns, legs: Legs, start: int, stop: int) -> None:
        first = records.starts[start:stop]
        count = records.stops[start:stop] - first
        self.size = size = stop - start
        self.leg = leg = np.repeat(np.arange(size), count)  # each row's leg
        self.rows = rows = len(leg)
        self.row = np.arange(rows)
        record = first[leg] + self.row - (np.cumsum(count) - count)[leg]
        self.time = records.times[record]
        kinds = records.kinds[record]
        number = records.kind_number
        self.accepted, self.attempt, self.connect_failed, self.submit_failed, self.processing, self.processed = (
            kinds == number[kind] for kind in CHAIN_EVENTS)
        self.node = records.nodes[record].astype(np.int64)
        recipients = legs.recipients[start:stop]
        aliased = {i - start: names for i, names in legs.aliases.items() if start <= i < stop}
        self.match = np.zeros(rows, dtype=np.bool_)  # a record of the leg's recipient (or of an alias that led to it)
        self.client = np.full(rows, -1, dtype=np.int64)  # where an acceptance came from
        self.next = np.full(rows, np.nan)  # when a failed submission is tried again
        for kind in ("accepted", "attempt", "processing", "processed", "submit_failed"):
            these = np.flatnonzero(kinds == number[kind])
            values = log.at(VALUES, records.positions[record[these]].tolist())
            if kind in _RCPTS:
                rcpts = list(map(itemgetter(_RCPTS[kind]), values))
                legs_of = leg[these].tolist()
                self.match[these] = np.fromiter(map(contains, rcpts, take(recipients, legs_of)),
                                                dtype=np.bool_, count=len(these))
                if aliased:
                    for r, i, of in zip(these.tolist(), legs_of, rcpts, strict=True):
                        if i in aliased:
                            self.match[r] = not aliased[i].isdisjoint(of)
            if kind == "accepted":
                self.client[these] = records.node_numbers(list(map(itemgetter(_FROM), values)))
            elif kind == "submit_failed":
                self.next[these] = list(map(float, map(itemgetter(_NEXT), values)))
        self.submitted = np.array(legs.submitted_s[start:stop], dtype=np.float64)
        self.delivered = np.array(legs.delivered_s[start:stop], dtype=np.float64)
        self.made_s = np.array(legs.made_s[start:stop], dtype=np.float64)
        self.made = ~np.isnan(self.made_s)
        self.made_at = np.array(records.node_numbers(legs.made_at[start:stop]), dtype=np.int64)
        self.nowhere = records.node_numbers([""])[0]  # where a list's copy comes from
        self.ours = self.accepted & self.match  # the acceptances of the leg's recipient
        self.acceptances = np.bincount(leg[self.ours], minlength=size) + self.made

    # ---- reductions per leg ------------------------------------------------------------------

    def _first(self, mask: Any) -> Any:
        """Each leg's first row in ``mask`` (``rows`` if none)."""
        out = np.full(self.size, self.rows)
        np.minimum.at(out, self.leg[mask], self.row[mask])
        return out

    def _last(self, mask: Any) -> Any:
        """Each leg's last row in ``mask`` (-1 if none)."""
        out = np.full(self.size, -1)
        np.maximum.at(out, self.leg[mask], self.row[mask])
        return out

    def _at(self, values: Any, rows: Any) -> Any:
        """``values`` (a row's) at each leg's row ``rows`` (anything where there is no such row)."""
        if self.rows == 0:
            return np.zeros(len(rows), dtype=values.dtype)
        return values[np.clip(rows, 0, self.rows - 1)]

    def _is_server(self, node: Any) -> Any:
        """Whether each leg's ``node`` accepted the leg's recipient (or made the list's copy)."""
        accepted = self.ours & (self.node == node[self.leg])
        return (np.bincount(self.leg[accepted], minlength=self.size) > 0) | (self.made & (self.made_at == node))

    # ---- the walk's rules --------------------------------------------------------------------

    def _latest(self, legs: Any, before_s: Any, node: Any = None) -> tuple[Any, Any, Any, Any]:
        """Of ``legs``, the latest acceptance of the recipient at ``before_s`` or before (at ``node``, if
        given); of several at that time, the first (the list's making first): whether there is one,
        its time, node and client."""
        mask = self.accepted & self.match & legs[self.leg] & (self.time <= before_s[self.leg])
        made = legs & self.made & (self.made_s <= before_s)
        if node is not None:
            mask &= self.node == node[self.leg]
            made &= self.made_at == node
        latest_s = np.full(self.size, -np.inf)
        np.maximum.at(latest_s, self.leg[mask], self.time[mask])
        by_made = made & (self.made_s >= latest_s)
        row = self._first(mask & (self.time == latest_s[self.leg]))
        found = by_made | (row < self.rows)
        return (found, np.where(by_made, self.made_s, self._at(self.time, row)),
                np.where(by_made, self.made_at, self._at(self.node, row)),
                np.where(by_made, self.nowhere, self._at(self.client, row)))

    def _stage(self, legs: Any, node: Any, accepted_s: Any, before_s: Any) -> tuple[Any, Any, Any]:
        """(worker wait, processing, when it left the stage) of each of ``legs``' recipient accepted
        at ``node`` at ``accepted_s`` and gone on by ``before_s``: the first processing of it there
        from then, and the first processed after that, among the records up to the first after
        ``before_s``; (0, 0, accepted_s) without them."""
        read = self.row < self._first(self.time > before_s[self.leg])[self.leg]
        mask = read & legs[self.leg] & self.match & (self.node == node[self.leg]) & (self.time >= accepted_s[self.leg])
        started = self._first(mask & self.processing)
        done = self._first(mask & self.processed & (self.row > started[self.leg]))
        staged = done < self.rows
        started_s, done_s = self._at(self.time, started), self._at(self.time, done)
        return (np.where(staged, started_s - accepted_s, 0.0), np.where(staged, done_s - started_s, 0.0),
                np.where(staged, done_s, accepted_s))

    def _session_start(self, legs: Any, client: Any, accepted_s: Any) -> Any:
        """When the session that got each of ``legs``' recipient accepted at ``accepted_s`` started
        at ``client``: its last attempt there up to then, or a failed connection after the first
        (the next MX is tried at once); ``accepted_s`` without an attempt."""
        read = self.row < self._first(self.time > accepted_s[self.leg])[self.leg]
        there = read & legs[self.leg] & (self.node == client[self.leg])
        attempts = there & self.attempt & self.match
        first = self._first(attempts)
        last = self._last(attempts | (there & self.connect_failed & (self.row > first[self.leg])))
        return np.where(first < self.rows, self._at(self.time, last), accepted_s)

    def _submission_start(self, legs: Any, client: Any, accepted_s: Any) -> Any:
        """When each of ``legs``' submission session from ``client`` started: the latest retry time of
        a failed submission there up to ``accepted_s``, if later than the submission."""
        mask = legs[self.leg] & self.submit_failed & (self.node == client[self.leg]) \
            & (self.time <= accepted_s[self.leg]) & (self.next <= accepted_s[self.leg])
        retried_s = np.full(self.size, -np.inf)
        np.maximum.at(retried_s, self.leg[mask], self.next[mask])
        return np.where(retried_s > self.submitted, retried_s, self.submitted)

    def split(self) -> tuple[Any, Any, Any, Any]:
        """(queue wait, worker wait, processing, transfer) of each leg: walking back from the
        acceptance that delivered it, hop by hop, every leg in step."""
        zero = np.zeros(self.size)
        wait_s, worker_s, processing_s, transfer_s = zero.copy(), zero.copy(), zero.copy(), zero.copy()
        walking, hop_s, node, client = self._latest(np.ones(self.size, dtype=np.bool_), self.delivered)
        waited_s, processed_s, left_s = self._stage(walking, node, hop_s, self.delivered)
        worker_s[walking], processing_s[walking] = waited_s[walking], processed_s[walking]
        wait_s[walking] = (self.delivered - left_s)[walking]
        lost = ~walking  # an inconsistent chain (no acceptance to walk back from)
        hops = np.zeros(self.size, dtype=np.int64)
        while walking.any():
            ended = walking & (hops > self.acceptances)  # as many hops as acceptances and one more
            lost |= ended
            walking &= ~ended
            submitted = walking & ~self._is_server(client)  # the submission session from the user's node
            start_s = self._submission_start(submitted, client, hop_s)
            wait_s[submitted] = (wait_s + (start_s - self.submitted))[submitted]
            transfer_s[submitted] = (transfer_s + (hop_s - start_s))[submitted]
            walking &= ~submitted
            start_s = self._session_start(walking, client, hop_s)
            transfer_s[walking] = (transfer_s + (hop_s - start_s))[walking]
            found, back_s, _node, back_client = self._latest(walking, start_s, client)
            lost |= walking & ~found
            walking &= found
            waited_s, processed_s, left_s = self._stage(walking, client, back_s, start_s)
            worker_s[walking] = (worker_s + waited_s)[walking]
            processing_s[walking] = (processing_s + processed_s)[walking]
            wait_s[walking] = (wait_s + (start_s - left_s))[walking]
            hop_s, client = np.where(walking, back_s, hop_s), np.where(walking, back_client, client)
            hops += walking
        # what is not accounted for as transfer or processing counts as waiting
        wait_s[lost] = ((self.delivered - self.submitted) - transfer_s - worker_s - processing_s)[lost]
        return wait_s, worker_s, processing_s, transfer_s
