"""A user's mailbox on the server that holds it: delivered messages in arrival order.

Delivery appends; a second delivery of the same message is a duplicate and is counted, not
stored twice (the message itself says where it has been delivered: see
:attr:`simulator.message.Message.delivered_to`). The mailbox also keeps what the access
protocols change on the server: POP3 deletions (at the end of a session), IMAP/webmail
``\\Seen`` flags shared by every device, the folder a message was filed into, and the POP3
maildrop lock. Listeners (the user's devices) are told of each new message.

Only devices that list the mailbox (POP3, webmail) read its messages back from it; an IMAP
client is told of each delivery and queues it until fetched (:mod:`simulator.imap`). A mailbox
read by IMAP alone is not ``listed``: it keeps no message (IMAP leaves mail on the server, but
nothing reads it back from there). A listed mailbox forgets what POP3 deleted, and what every
device has passed when they leave mail on the server (POP3 with keep, webmail). Either way a
message leaves memory once every device that will ever get it has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .message import Message


class Mailbox:
    """Messages delivered to one address."""

    __slots__ = ("address", "base", "deleted", "folders", "listed", "listeners", "lock", "messages", "seen")

    def __init__(self, address: str) -> None:
        self.address = address
        # Whether devices list the mailbox, so that it keeps its messages (the user agent says).
        self.listed = True
        # In delivery order, from position ``base`` on: the messages before it were deleted (POP3),
        # or every device has listed and passed them (POP3 with keep, webmail), and are forgotten,
        # so that a mailbox holds no message for ever that no device will list again.
        self.messages: list[Message] = []
        self.base = 0
        self.deleted: set[str] = set()  # deleted, but still behind a message that is not
        self.seen: set[str] = set()
        self.folders: dict[str, str] = {}
        self.lock: object | None = None  # the POP3 session holding the maildrop
        self.listeners: list[Callable[[Message], None]] = []

    def had(self, message: Message) -> bool:
        """Whether ``message`` was delivered here before (deleted since or not): another delivery
        of it is a duplicate."""
        delivered = message.delivered_to
        return delivered is self or (type(delivered) is set and self in delivered)

    def store(self, message: Message) -> None:
        """Store a delivery of a message not here yet (the caller tells duplicates by :meth:`had`)."""
        delivered = message.delivered_to
        if delivered is None:
            message.delivered_to = self
        elif isinstance(delivered, set):
            delivered.add(self)
        else:
            message.delivered_to = {delivered, self}
        if self.listed:
            self.messages.append(message)
        for listener in self.listeners:
            listener(message)

    def present(self, start: int = 0) -> list[Message]:
        """Messages from position ``start`` on that are still in the mailbox (not deleted); none
        when the mailbox is not listed."""
        deleted = self.deleted
        return [m for m in self.messages[max(0, start - self.base):] if m.id not in deleted]

    def forget_before(self, position: int) -> None:
        """Every device has listed and passed the messages before ``position``, and leaves them on
        the server (POP3 with keep, webmail): none will list them again, so they are forgotten."""
        front = position - self.base
        if front > 0:
            del self.messages[:front]
            self.base = position

    def delete(self, messages: Iterable[Message]) -> list[str]:
        """POP3's UPDATE state: ``messages`` leave the mailbox. The deleted messages at its front are
        forgotten (``base`` moves past them); returns their ids."""
        deleted, kept = self.deleted, self.messages
        deleted.update(m.id for m in messages)
        front = 0
        while front < len(kept) and kept[front].id in deleted:
            front += 1
        gone = [m.id for m in kept[:front]]
        del kept[:front]
        self.base += front
        deleted.difference_update(gone)
        if not deleted:
            self.deleted = set()  # an emptied set keeps its table: a new one holds nothing
        return gone
