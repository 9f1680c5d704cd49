"""Mailing lists and aliases at the server that holds their domain.

When that server takes a message (it accepted it from a client, or made it: a DSN, a list's
copy) for recipients among its lists and aliases, at that same moment:

- an **alias** is rewritten into its targets, as Postfix's ``virtual_alias_maps`` rewrites a
  recipient before the message is queued: the same message (same id, same envelope sender)
  goes on to the targets, each recipient once (targets already among the recipients, or reached
  through another alias, are not added again). Aliases of aliases are followed.
- a **list** gets a copy: a new message (new id) with the same content, the list's members as
  recipients and the list's owner as envelope sender, so a member's bounce goes to the owner,
  not to the author; the copy's ``about`` names the message it copies. A DSN sent to a list is
  re-sent with the null sender kept (a list never turns a DSN into mail that can bounce). The
  copy is taken by the same server at once, so lists nested at one server each make their own
  copy, with their own owner.

Each expansion is logged as ``expanded`` (the address, what it was, its targets or members, and
for a list the copy's id); the copy's ``created`` record follows. The server first routes the message's own
recipients (aliases rewritten), then makes each list's copy, in the order of the recipients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .addresses import domain_of
from .message import Message
from .server import log_created

if TYPE_CHECKING:
    from collections.abc import Callable

    from .delivery import Job
    from .server import MailServer

__all__ = ["Expansions", "ListCopy", "install"]


@dataclass(slots=True, eq=False)
class ListCopy(Message):
    """A list's copy of a message: its own envelope, the original's headers (its ``To:`` is the
    list's, not the members'), so a DSN about it quotes the original's header block."""

    original_to: tuple[str, ...] = ()

    @property
    def header_recipients(self) -> tuple[str, ...]:
        return self.original_to


class Expansions:
    """The lists and aliases one server holds, and what it does with a message for them."""

    __slots__ = ("addresses", "aliases", "lists", "server")

    def __init__(self, server: MailServer) -> None:
        self.server = server
        self.aliases: dict[str, tuple[str, ...]] = {}  # alias -> its targets
        self.lists: dict[str, tuple[str, tuple[str, ...]]] = {}  # list -> (owner, members)
        self.addresses: set[str] = set()  # every list and alias: what RCPT TO accepts, what take expands

    def add_list(self, address: str, owner: str, members: tuple[str, ...]) -> None:
        self.lists[address] = (owner, members)
        self.addresses.add(address)

    def add_alias(self, address: str, targets: tuple[str, ...]) -> None:
        self.aliases[address] = targets
        self.addresses.add(address)

    def take(self, message: Message, rcpts: tuple[str, ...], start: bool) -> list[Job]:
        """Take ``message`` for ``rcpts`` as :meth:`MailServer.take` does, lists and aliases expanded
        (the server calls this when one of ``rcpts`` is among :attr:`addresses`)."""
        server = self.server
        aliases, lists = self.aliases, self.lists
        ctx = server.ctx
        kept: dict[str, None] = {}  # the message's recipients here, aliases rewritten, each once
        posts: dict[str, None] = {}  # lists to make a copy for
        rewritten: set[str] = set()
        stack = list(reversed(rcpts))
        while stack:
            rcpt = stack.pop()
            targets = aliases.get(rcpt)
            if targets is not None:
                if rcpt not in rewritten:
                    rewritten.add(rcpt)
                    ctx.record("expanded", message.id, server.name, (rcpt, "alias", targets, None))
                    stack.extend(reversed(targets))
            elif rcpt in lists:
                posts[rcpt] = None
            else:
                kept[rcpt] = None
        jobs = server.route(message, tuple(kept), start) if kept else []
        for address in posts:
            owner, members = lists[address]
            copy = _copy(message, owner, members, ctx.new_id("d" if message.is_dsn else "m"), ctx.env.now)
            ctx.record("expanded", message.id, server.name, (address, "list", members, copy.id))
            log_created(ctx, copy, server.name)
            jobs += server.take(copy, members, start)
        return jobs


def _copy(message: Message, owner: str, members: tuple[str, ...], copy_id: str, now_s: float) -> ListCopy:
    """The list's copy of ``message``: the same content, the members as recipients, the owner as
    envelope sender (the null sender stays null)."""
    return ListCopy(
        copy_id, message.kind, owner if message.sender else "", message.author, members, message.size_bytes,
        message.wire_bytes, now_s, about=message.id, text_bytes=message.text_bytes,
        attachments=message.attachments, origin=message.origin, eight_bit=message.eight_bit,
        wire_7bit_bytes=message.wire_7bit_bytes, original_to=message.header_recipients,
    )


def install(servers: dict[str, MailServer], home: dict[str, str], scenario: Any,
            select: Callable[[str], list[str]]) -> None:
    """Give each server holding a list's or an alias's domain its :class:`Expansions`. Members
    are expanded once, here: a group prefix or a domain into its users (``select``), each
    address once, in order."""
    for entry in scenario.lists:
        members = _members(entry.members, select)
        _expansions(servers, home, entry.address).add_list(entry.address, entry.bounces_to, members)
    for alias in scenario.aliases:
        _expansions(servers, home, alias.address).add_alias(alias.address, _members(alias.to, select))


def _expansions(servers: dict[str, MailServer], home: dict[str, str], address: str) -> Expansions:
    server = servers[home[domain_of(address)]]
    if server.expansions is None:
        server.expansions = Expansions(server)
    return server.expansions


def _members(selectors: tuple[str, ...], select: Callable[[str], list[str]]) -> tuple[str, ...]:
    members: dict[str, None] = {}
    for selector in selectors:
        for address in ([selector] if "@" in selector else select(selector)):
            members[address] = None
    return tuple(members)
