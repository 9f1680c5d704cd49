"""A user's mailbox on the server that holds it: delivered messages in arrival order.

Delivery appends; a second delivery of the same message is a duplicate and is counted, not
stored twice. Listeners (IMAP sessions in IDLE) are told of each new message.
"""

from __future__ import annotations

from collections.abc import Callable

from .message import Message


class Mailbox:
    """Messages delivered to one address."""

    __slots__ = ("address", "ids", "listeners", "messages")

    def __init__(self, address: str) -> None:
        self.address = address
        self.messages: list[tuple[Message, float]] = []  # (message, delivered_at_s)
        self.ids: set[str] = set()
        self.listeners: list[Callable[[Message], None]] = []

    def store(self, message: Message, now_s: float) -> bool:
        """Store a delivery; False when this message was already here (a duplicate)."""
        if message.id in self.ids:
            return False
        self.ids.add(message.id)
        self.messages.append((message, now_s))
        for listener in list(self.listeners):
            listener(message)
        return True
