"""The mailing lists and aliases of a scenario (``lists``, ``aliases``): their models, and the
checks of what they name (domains, users, groups, each other) with loops refused. How many final
recipients one message to each reaches is estimated in :mod:`simulator.workload`.

A member (of a list, or a target of an alias) is an address (a user, another list or alias, or
an unknown user of a held domain, who gets 550), a group prefix, or a domain with users, as in
a traffic selector. The simulation of what a list or alias does is in :mod:`simulator.lists`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from .base import Spec
from .errors import Loc
from .fields import Address, Selection

if TYPE_CHECKING:
    from .checks import _UserIndex as UserIndex
    from .model import Scenario

__all__ = ["AliasSpec", "ListSpec", "entries", "expansion_issues", "owner_of"]

MAX_NESTING = 100
"""Lists and aliases one message may pass through in a chain (sendmail stops at 10, Postfix's
``virtual_alias_recursion_limit`` at 1000); a deeper chain is refused at validation."""


def owner_of(address: str) -> str:
    """The default owner of the list ``address``: ``<local>-owner@<domain>``."""
    local, _, domain = address.rpartition("@")
    return f"{local}-owner@{domain}"


class ListSpec(Spec):
    """A mailing list: mail to ``address`` is re-sent by its server to ``members``, as a new
    message whose envelope sender is ``owner`` (so members' bounces go to the owner)."""

    address: Address
    members: Selection  # addresses (users, lists, aliases, unknown users), group prefixes, domains
    owner: Address | None = Field(default=None, description="where members' bounces go; "
                                                             "default <local>-owner@<domain>")

    @model_validator(mode="after")
    def _default_owner(self) -> ListSpec:
        if self.owner is None:
            self.__dict__["owner"] = owner_of(self.address)  # frozen: filled in once, as validated
        return self

    @property
    def bounces_to(self) -> str:
        """The envelope sender of the list's copies: ``owner``, or its default."""
        return self.owner or owner_of(self.address)

    def to_yaml(self) -> dict[str, object]:
        return {"address": self.address, "members": list(self.members), "owner": self.bounces_to}


class AliasSpec(Spec):
    """An alias: mail to ``address`` goes on to ``to`` as the same message, sender unchanged."""

    address: Address
    to: Selection

    def to_yaml(self) -> dict[str, object]:
        return {"address": self.address, "to": list(self.to)}


def entries(s: Scenario) -> Iterator[tuple[Loc, str, tuple[str, ...]]]:
    """Every list and alias: (key path, address, members)."""
    for i, entry in enumerate(s.lists):
        yield ("lists", i), entry.address, entry.members
    for i, alias in enumerate(s.aliases):
        yield ("aliases", i), alias.address, alias.to


def _member_key(loc: Loc) -> str:
    return "members" if loc[0] == "lists" else "to"


def expansion_issues(s: Scenario, users: UserIndex) -> list[tuple[Loc, str]]:
    """What in ``lists`` and ``aliases`` does not resolve (``users`` knows the users, groups and
    held domains): unknown domains, groups and selectors, addresses that are taken, members
    listed twice, owners in no held domain, loops and chains deeper than :data:`MAX_NESTING`."""
    issues: list[tuple[Loc, str]] = []
    if not s.lists and not s.aliases:
        return issues
    where: dict[str, Loc] = {}
    for loc, address, _members in entries(s):
        domain = address.rpartition("@")[2]
        if domain not in users.holder:
            issues.append(((*loc, "address"), f"domain '{domain}' is not held by any server (servers.*.domains)"))
        elif address in where:
            issues.append(((*loc, "address"), f"'{address}' is already a list or alias "
                                              f"({'.'.join(map(str, where[address]))})"))
        elif users.is_user(address):
            issues.append(((*loc, "address"), f"'{address}' is a user's address; a list or alias needs an "
                                              "address of its own"))
        where.setdefault(address, loc)
    for loc, _address, members in entries(s):
        seen: set[str] = set()
        for j, member in enumerate(members):
            member_loc: Loc = (*loc, _member_key(loc), j)
            problem = _member_problem(member, users)
            if problem:
                issues.append((member_loc, problem))
            elif member in seen:
                issues.append((member_loc, f"'{member}' is listed twice"))
            seen.add(member)
    for i, entry in enumerate(s.lists):
        domain = entry.bounces_to.rpartition("@")[2]
        if domain not in users.holder and domain != entry.address.rpartition("@")[2]:  # else reported above
            issues.append((("lists", i, "owner"), f"domain '{domain}' is not held by any server, so the list's "
                                                   "bounces could not be delivered"))
    if not issues:
        issues += _loops_and_depth(s, where)
    return issues


def _member_problem(member: str, users: UserIndex) -> str | None:
    """A member is any address of a held domain (a list, an alias, an unknown user: 550), or a
    traffic selector naming users."""
    if "@" in member:
        domain = member.rpartition("@")[2]
        if domain not in users.holder:
            return (f"domain '{domain}' is not held by any server (an unknown user of a held domain is "
                    "allowed: it gets 550)")
        return None
    return users.endpoint_problem(member)


def _graph(s: Scenario, where: Mapping[str, Loc]) -> dict[str, list[tuple[str, Loc]]]:
    """List or alias address -> the lists and aliases among its members, with their key paths."""
    graph: dict[str, list[tuple[str, Loc]]] = {}
    for loc, address, members in entries(s):
        graph[address] = [(member, (*loc, _member_key(loc), j)) for j, member in enumerate(members)
                          if member in where]
    return graph


def _loops_and_depth(s: Scenario, where: Mapping[str, Loc]) -> list[tuple[Loc, str]]:
    """Loops (each reported at the member that closes it, naming every hop's key) and chains of
    more than :data:`MAX_NESTING` lists and aliases; iterative, so any nesting takes no stack."""
    graph = _graph(s, where)
    issues: list[tuple[Loc, str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    depth: dict[str, int] = {}  # lists and aliases in the longest chain from here, itself included
    for root in graph:
        if root in state:
            continue
        path: list[tuple[str, Loc]] = [(root, where[root])]
        state[root] = 1
        stack = [iter(graph[root])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                address, _ = path.pop()
                state[address] = 2
                depth[address] = 1 + max((depth.get(m, 0) for m, _ in graph[address]), default=0)
                continue
            member, loc = step
            if state.get(member) == 1:
                start = next(k for k, (address, _) in enumerate(path) if address == member)
                hops = [*path[start:], (member, loc)]
                chain = " -> ".join(f"{address} ({'.'.join(map(str, hop))})" for address, hop in hops)
                issues.append((loc, f"'{member}' leads back to itself, a loop: {chain}; a message to it would "
                                    "be re-sent without end"))
            elif member not in state:
                state[member] = 1
                path.append((member, loc))
                stack.append(iter(graph[member]))
    deepest = max(graph, key=lambda address: depth.get(address, 0))  # the first of the deepest, in file order
    if not issues and depth[deepest] > MAX_NESTING:
        issues.append(((*where[deepest], "address"), f"a message to '{deepest}' passes through a chain of "
                                                      f"{depth[deepest]} lists and aliases, more than the "
                                                      f"{MAX_NESTING} allowed"))
    return issues
