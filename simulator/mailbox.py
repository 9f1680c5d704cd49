"""A user's mailbox on the server that holds it: delivered messages in arrival order.

Delivery appends; a second delivery of the same message is a duplicate and is counted, not
stored twice. The mailbox also keeps what the access protocols change on the server: POP3
deletions (at the end of a session), IMAP/webmail ``\\Seen`` flags shared by every device, the
folder a message was filed into, and the POP3 maildrop lock. Listeners (the user's devices)
are told of each new message.
"""

from __future__ import annotations

from collections.abc import Callable

from .message import Message


class Mailbox:
    """Messages delivered to one address."""

    __slots__ = ("address", "deleted", "folders", "ids", "listeners", "lock", "messages", "seen")

    def __init__(self, address: str) -> None:
        self.address = address
        self.messages: list[Message] = []
        self.ids: set[str] = set()
        self.deleted: set[str] = set()
        self.seen: set[str] = set()
        self.folders: dict[str, str] = {}
        self.lock: object | None = None  # the POP3 session holding the maildrop
        self.listeners: list[Callable[[Message], None]] = []

    def store(self, message: Message) -> None:
        """Store a delivery of a message not here yet (the caller tells duplicates by ``ids``)."""
        self.ids.add(message.id)
        self.messages.append(message)
        for listener in self.listeners:
            listener(message)

    def present(self, start: int = 0) -> list[Message]:
        """Messages from position ``start`` on that are still in the mailbox (not deleted)."""
        deleted = self.deleted
        return [m for m in self.messages[start:] if m.id not in deleted]
