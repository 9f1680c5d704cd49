"""The mailing lists and aliases of a scenario (``lists``, ``aliases``): their models, the
checks of what they name (domains, users, groups, each other) with loops refused, and how many
final recipients one message to each of them reaches, counted without expanding anything.

A member (of a list, or a target of an alias) is an address (a user, another list or alias, or
an unknown user of a held domain, who gets 550), a group prefix, or a domain with users, as in
a traffic selector. The simulation of what a list or alias does is in :mod:`simulator.lists`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from .base import Spec
from .errors import Loc
from .fields import Address, Selection
from .users import GroupSpec

if TYPE_CHECKING:
    from .model import Scenario

__all__ = ["AliasSpec", "ListSpec", "expansion_counts", "expansion_issues", "owner_of"]

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
    owner: Address

    @model_validator(mode="before")
    @classmethod
    def _default_owner(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "owner" not in data and isinstance(data.get("address"), str) \
                and "@" in data["address"]:
            return {**data, "owner": owner_of(data["address"])}
        return data

    def to_yaml(self) -> dict[str, object]:
        return {"address": self.address, "members": list(self.members), "owner": self.owner}


class AliasSpec(Spec):
    """An alias: mail to ``address`` goes on to ``to`` as the same message, sender unchanged."""

    address: Address
    to: Selection

    def to_yaml(self) -> dict[str, object]:
        return {"address": self.address, "to": list(self.to)}


def _entries(s: Scenario) -> Iterator[tuple[Loc, str, tuple[str, ...]]]:
    """Every list and alias: (key path, address, members)."""
    for i, entry in enumerate(s.lists):
        yield ("lists", i), entry.address, entry.members
    for i, alias in enumerate(s.aliases):
        yield ("aliases", i), alias.address, alias.to


def _member_key(loc: Loc) -> str:
    return "members" if loc[0] == "lists" else "to"


class _Names:
    """Users per selector, from the scenario's counts alone (no group is expanded)."""

    def __init__(self, s: Scenario) -> None:
        self.holder = s.domains()
        self.explicit = {entry.address for entry in s.users if not isinstance(entry, GroupSpec)}
        self.groups = [entry for entry in s.users if isinstance(entry, GroupSpec)]
        self.by_prefix = {group.prefix: group.count for group in self.groups}
        self.by_domain: dict[str, int] = {}
        for entry in s.users:
            count = entry.count if isinstance(entry, GroupSpec) else 1
            self.by_domain[entry.domain] = self.by_domain.get(entry.domain, 0) + count

    def is_user(self, address: str) -> bool:
        return address in self.explicit or any(group.contains(address) for group in self.groups)

    def users(self, selector: str) -> int:
        """How many users a group prefix or a domain names."""
        if selector in self.holder:
            return self.by_domain.get(selector, 0)
        return self.by_prefix.get(selector, 0)


def expansion_issues(s: Scenario) -> list[tuple[Loc, str]]:
    """What in ``lists`` and ``aliases`` does not resolve: unknown domains, groups and
    selectors, addresses that are taken, members listed twice, owners in no held domain,
    loops and chains deeper than :data:`MAX_NESTING`."""
    issues: list[tuple[Loc, str]] = []
    if not s.lists and not s.aliases:
        return issues
    names = _Names(s)
    where: dict[str, Loc] = {}
    for loc, address, _members in _entries(s):
        domain = address.rpartition("@")[2]
        if domain not in names.holder:
            issues.append(((*loc, "address"), f"domain '{domain}' is not held by any server (servers.*.domains)"))
        elif address in where:
            issues.append(((*loc, "address"), f"'{address}' is already a list or alias "
                                              f"({'.'.join(map(str, where[address]))})"))
        elif names.is_user(address):
            issues.append(((*loc, "address"), f"'{address}' is a user's address; a list or alias needs an "
                                              "address of its own"))
        where.setdefault(address, loc)
    for loc, _address, members in _entries(s):
        seen: set[str] = set()
        for j, member in enumerate(members):
            member_loc: Loc = (*loc, _member_key(loc), j)
            problem = _member_problem(member, names)
            if problem:
                issues.append((member_loc, problem))
            elif member in seen:
                issues.append((member_loc, f"'{member}' is listed twice"))
            seen.add(member)
    for i, entry in enumerate(s.lists):
        domain = entry.owner.rpartition("@")[2]
        if domain not in names.holder and domain != entry.address.rpartition("@")[2]:  # else reported above
            issues.append((("lists", i, "owner"), f"domain '{domain}' is not held by any server, so the list's "
                                                   "bounces could not be delivered"))
    if not issues:
        issues += _loops_and_depth(s, where)
    return issues


def _member_problem(member: str, names: _Names) -> str | None:
    if "@" in member:
        domain = member.rpartition("@")[2]
        if domain not in names.holder:
            return (f"domain '{domain}' is not held by any server (an unknown user of a held domain is "
                    "allowed: it gets 550)")
        return None
    if member in names.holder or member in names.by_prefix:
        return None if names.users(member) else f"domain '{member}' has no users"
    return f"'{member}' is neither an address, a group prefix, nor a domain held by a server"


def _graph(s: Scenario, where: Mapping[str, Loc]) -> dict[str, list[tuple[str, Loc]]]:
    """List or alias address -> the lists and aliases among its members, with their key paths."""
    graph: dict[str, list[tuple[str, Loc]]] = {}
    for loc, address, members in _entries(s):
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


def expansion_counts(s: Scenario) -> dict[str, tuple[int, ...]]:
    """List or alias address -> the final recipients one message to it reaches through each of
    its members (their sum is what the message reaches): a user or an unknown address counts 1,
    a group or a domain its users, a nested list or alias what it reaches (each time it is
    named: a nested list makes its own copy). Exact integers, worked out from the counts without
    expanding anything. The scenario must have passed :func:`expansion_issues` (no loops)."""
    if not s.lists and not s.aliases:
        return {}
    names = _Names(s)
    members_of = {address: members for _loc, address, members in _entries(s)}
    reach: dict[str, tuple[int, ...]] = {}
    total: dict[str, int] = {}
    for root in members_of:
        stack = [root]
        while stack:
            address = stack[-1]
            if address in total:
                stack.pop()
                continue
            pending = [m for m in members_of[address] if m in members_of and m not in total]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            reach[address] = tuple(total[m] if m in members_of else 1 if "@" in m else names.users(m)
                                   for m in members_of[address])
            total[address] = sum(reach[address])
    return reach


def recipients_count(reach: Mapping[str, tuple[int, ...]], recipients: tuple[str, ...]) -> int:
    """Final recipients of a message to ``recipients`` (``reach`` from :func:`expansion_counts`):
    a list or alias counts what it reaches."""
    return sum(sum(reach[rcpt]) if rcpt in reach else 1 for rcpt in recipients)
