"""A receiving server's rate limit per client: at most ``messages`` messages from one client node
in each window of ``per_s`` seconds.

The windows are fixed and aligned to time 0: window ``k`` is ``[k * per_s, (k + 1) * per_s)``.
Each client's count starts again at zero in each window. A session the limit lets through counts
as one message (a session carries one message). The object is plain: it is given the time and
needs no simulation environment.
"""

from __future__ import annotations

import math


class RateLimit:
    """Per-client message counts in the current window; ``admit`` says whether one more fits."""

    __slots__ = ("_counts", "messages", "per_s")

    def __init__(self, messages: int, per_s: float) -> None:
        self.messages = messages
        self.per_s = per_s
        self._counts: dict[str, tuple[int, int]] = {}  # client -> (window index, messages in it)

    def window(self, now_s: float) -> int:
        """The index of the window holding ``now_s``."""
        return math.floor(now_s / self.per_s)

    def admit(self, client: str, now_s: float) -> bool:
        """Count one message from ``client`` at ``now_s`` if the window has room; False if it is full."""
        window = self.window(now_s)
        held = self._counts.get(client)
        count = held[1] if held is not None and held[0] == window else 0
        if count >= self.messages:
            return False
        self._counts[client] = (window, count + 1)
        return True

    def reopens_s(self, now_s: float) -> float:
        """When the window holding ``now_s`` ends (the count starts again)."""
        return (self.window(now_s) + 1) * self.per_s
