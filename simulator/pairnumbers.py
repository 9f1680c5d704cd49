"""The (message, recipient) pairs of a log's messages, numbered, and records matched to them by number.

Derivation gathers what each kind of record says about a pair into numpy arrays indexed by the
pair's number. A column of records is matched to pairs with no Python step per record. A record's
message id is matched to the messages made by identity: a run logs one string object per message,
which each of its records names, so the identities (``id``) of the ids are looked up
by binary search among those of the messages (sorted); only ids not found so are looked up by
value, in a dict (a log read back from a file has a string object per record). Its recipient is
numbered in a small dict of addresses. A message of one recipient (most are) has its pair at its
first; the others' pairs are found by binary search over integer keys (message number times
recipients, plus recipient number). Measured on the benchmark's scenario at a million messages
(1.2 million pairs; CPU time, over its 1.2 million ``retrieved`` records): a ``(message id,
recipient)`` tuple looked up in a dict of every pair costs about 0.8 µs a record, most of it
waiting for memory, as the records come in an order that is not the dict's; a message id looked
up in a dict of the ids about 0.35 µs (its number put in an array included), by identity about
0.2 µs, and no dict of a million ids need be made (0.3 s). Objects touched twice (a reference
taken, then let go) are read :data:`PART` at a time, so that the second touch finds them in the
processor's cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, islice, repeat
from typing import Any

import numpy as np

from .coded import take

NONE = -1
"""The number of a pair (or message, or recipient) that is not numbered."""


def numbers_of(number: Mapping[Any, int], keys: Sequence[Any]) -> Any:
    """The number of each of ``keys`` in ``number`` (:data:`NONE` for a key it has not) as a numpy
    array: one C call when every key is there (as in a run's log), one per key otherwise."""
    try:
        found = take(number, keys)
    except KeyError:
        found = list(map(number.get, keys, repeat(NONE)))
    return np.fromiter(found, dtype=np.int64, count=len(found))


PART = 16_384
"""Objects read at a time where each is touched twice (a reference taken, then let go): a part's
objects are still in the processor's cache the second time."""


def identities(objects: Sequence[object]) -> Any:
    """Each object's identity (``id``) as a numpy array of unsigned integers, one C call per
    object (``map(id, ...)``), :data:`PART` objects at a time. Two identities are equal only if
    their objects are one while both are alive: the caller keeps ``objects`` alive while it
    compares them."""
    found = np.empty(len(objects), dtype=np.uintp)
    for start in range(0, len(objects), PART):
        stop = min(start + PART, len(objects))
        found[start:stop] = np.fromiter(map(id, objects[start:stop]), dtype=np.uintp, count=stop - start)
    return found


class MessageNumbers:
    """Message ids numbered in order (0, 1, ...; each id made once), and the ids records name
    matched to them: by identity (a run logs one string object per message, so every record of a
    message names the same object), then by value for those not found so (a log read back from a
    file has a string per record)."""

    __slots__ = ("_by_identity", "_identities", "_number", "ids")

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids
        found = identities(ids)
        self._by_identity = np.argsort(found)  # message numbers in the order of their identities
        self._identities = found[self._by_identity]
        self._number: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def number(self) -> dict[str, int]:
        """Each message id's number (made when first asked for)."""
        if self._number is None:
            self._number = dict(zip(self.ids, range(len(self.ids)), strict=True))
        return self._number

    def of(self, ids: Sequence[str]) -> Any:
        """The number of each message id (:data:`NONE` for one not numbered)."""
        if not self.ids:
            return np.full(len(ids), NONE, dtype=np.int64)
        wanted = identities(ids)
        at = np.searchsorted(self._identities, wanted)
        np.minimum(at, len(self.ids) - 1, out=at)
        same = self._identities[at] == wanted
        numbers = self._by_identity[at]
        if not same.all():
            others = np.flatnonzero(~same)
            numbers[others] = numbers_of(self.number, take(ids, others.tolist()))
        return numbers


class PairNumbers:
    """The pairs of messages numbered in order: message 0's recipients, then message 1's, and so
    on. A pair named twice by its message has the number of its last naming (as a dict would)."""

    __slots__ = ("_by_key", "_count", "_first", "_keys", "message", "named_twice", "owner", "pairs", "recipient",
                 "recipient_code", "recipients")

    def __init__(self, message: MessageNumbers, recipients: Iterable[Sequence[str]]) -> None:
        """``message``: the messages numbered; ``recipients``: each message's recipients, in that
        order (read :data:`PART` messages at a time, each message's still in the processor's cache
        as its recipients are counted)."""
        self.message = message
        self.recipients: list[str] = []  # each pair's recipient
        counts: list[int] = []
        recipients = iter(recipients)
        while part := list(islice(recipients, PART)):
            self.recipients += chain.from_iterable(part)
            counts += map(len, part)
        self.pairs = len(self.recipients)
        self.recipient: dict[str, int] = {rcpt: code for code, rcpt in enumerate(dict.fromkeys(self.recipients))}
        self.recipient_code = numbers_of(self.recipient, self.recipients)  # each pair's recipient number
        self._count = np.array(counts, dtype=np.int64)  # each message's pairs
        self._first = np.cumsum(self._count) - self._count  # each message's first pair
        self.owner = np.repeat(np.arange(len(counts), dtype=np.int64), self._count)  # each pair's message
        keys = self._key(self.owner, self.recipient_code)
        self._by_key = np.argsort(keys, kind="stable")  # pair numbers by key; one key's pairs in order
        self._keys = keys[self._by_key]
        self.named_twice = bool(np.any(self._keys[1:] == self._keys[:-1]))

    def _key(self, messages: Any, recipients: Any) -> Any:
        return messages * max(len(self.recipient), 1) + recipients

    def messages(self, ids: Sequence[str]) -> Any:
        """The number of each message id (:data:`NONE` for one not numbered)."""
        return self.message.of(ids)

    def numbers(self, messages: Any, rcpts: Sequence[str]) -> Any:
        """The pair number of each (message number, recipient) (:data:`NONE` for a pair not numbered)."""
        codes = numbers_of(self.recipient, rcpts)
        named = (messages != NONE) & (codes != NONE)
        if named.all():
            return self._numbers(messages, codes)
        numbers = np.full(len(codes), NONE, dtype=np.int64)
        numbers[named] = self._numbers(messages[named], codes[named])
        return numbers

    def _numbers(self, messages: Any, codes: Any) -> Any:
        """:meth:`numbers` of messages and recipients that are numbered. A message of one recipient
        has its pair at its first; the pairs of others are found by key."""
        if not self.pairs:
            return np.full(len(codes), NONE, dtype=np.int64)
        count, first = self._count[messages], self._first[messages]
        alone = count == 1
        alone &= self.recipient_code[np.minimum(first, self.pairs - 1)] == codes
        numbers = np.where(alone, first, NONE)
        several = np.flatnonzero(count > 1)
        if len(several):
            keys = self._key(messages[several], codes[several])
            at = np.searchsorted(self._keys, keys, side="right") - 1  # a key's last pair (-1: none)
            numbers[several] = np.where((at >= 0) & (self._keys[at] == keys), self._by_key[at], NONE)
        return numbers

    def of(self, ids: Sequence[str], rcpts: Sequence[str]) -> Any:
        """The pair number of each (message id, recipient) (:data:`NONE` for a pair not numbered)."""
        return self.numbers(self.messages(ids), rcpts)

    def of_each(self, ids: Sequence[str], rcpts: Sequence[Sequence[str]]) -> Any:
        """The pair numbers of records that each name a message and several of its recipients, one
        number per recipient, in order."""
        named = np.fromiter(map(len, rcpts), dtype=np.int64, count=len(rcpts))
        return self.numbers(np.repeat(self.messages(ids), named), list(chain.from_iterable(rcpts)))

    def own_numbers(self) -> Any:
        """Each pair's number as looked up (itself, or for a pair named twice its last naming)."""
        return self._by_key[np.searchsorted(self._keys, self._key(self.owner, self.recipient_code), side="right") - 1]


def first_of(pairs: Any, count: int) -> Any:
    """The position in ``pairs`` (pair numbers, :data:`NONE` for none) of each of ``count`` pairs'
    first mention; ``len(pairs)`` for a pair not mentioned."""
    first = np.full(count, len(pairs), dtype=np.int64)
    mentioned = pairs != NONE
    np.minimum.at(first, pairs[mentioned], np.flatnonzero(mentioned))
    return first


def last_of(pairs: Any, count: int) -> Any:
    """The position in ``pairs`` (pair numbers, :data:`NONE` for none) of each of ``count`` pairs'
    last mention; :data:`NONE` for a pair not mentioned."""
    last = np.full(count, NONE, dtype=np.int64)
    mentioned = pairs != NONE
    np.maximum.at(last, pairs[mentioned], np.flatnonzero(mentioned))
    return last


def unless(pairs: Any, excluded: Any) -> Any:
    """``pairs`` (pair numbers), :data:`NONE` in place of those ``excluded`` (a mask over the pairs)."""
    return np.where((pairs != NONE) & ~excluded[np.maximum(pairs, 0)], pairs, NONE)
