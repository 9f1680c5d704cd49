"""Greylisting as postgrey does it: which (client, sender, recipient) triplets a server lets
deliver now, and which it asks to try again later (``450``)."""

from __future__ import annotations

from typing import Any


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
