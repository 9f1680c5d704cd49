"""Cross-reference checks of a scenario: every name that must resolve (nodes, servers,
domains, users, groups, links) does, collected as (key path, message) issues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import Loc
from .lists import expansion_issues
from .users import GroupSpec

if TYPE_CHECKING:
    from .model import Scenario


def _components(adjacency: Mapping[str, set[str]]) -> dict[str, int]:
    component: dict[str, int] = {}
    for start in adjacency:
        if start in component:
            continue
        number = len(component)
        stack = [start]
        component[start] = number
        while stack:
            node = stack.pop()
            for neighbour in adjacency[node]:
                if neighbour not in component:
                    component[neighbour] = number
                    stack.append(neighbour)
    return component


def semantic_issues(s: Scenario) -> list[tuple[Loc, str]]:
    """Every reference in ``s`` that does not resolve, as (key path, message)."""
    issues: list[tuple[Loc, str]] = []
    adjacency, linked = _check_links(s, issues)
    component = _components(adjacency)
    holder = _check_servers(s, issues, adjacency, component)
    _check_dns(s, issues, holder)
    users = _UserIndex(s, issues, holder, adjacency, component)
    for i, traffic in enumerate(s.traffic):
        for key, value in (("from", traffic.from_), ("to", traffic.to)):
            problem = users.endpoint_problem(value)
            if problem:
                issues.append((("traffic", i, key), problem))
        if traffic.forward is not None and traffic.forward.to is not None:
            problem = users.endpoint_problem(traffic.forward.to)
            if problem:
                issues.append((("traffic", i, "forward", "to"), problem))
    for i, message in enumerate(s.messages):
        issues += _sent_issues(s, users, ("messages", i), message, "message")
        for j, recipient in enumerate(message.to):
            domain = recipient.rpartition("@")[2]
            if domain not in holder:
                issues.append(
                    (
                        ("messages", i, "to", j),
                        f"domain '{domain}' is not held by any server (an unknown user of a held "
                        "domain is allowed: it gets 550)",
                    )
                )
    _check_campaigns(s, issues, users)
    for i, outage in enumerate(s.outages):
        if outage.target in s.servers:
            continue
        if outage.kind == "link":
            a, b = outage.ends
            if frozenset((a, b)) not in linked:
                issues.append((("outages", i, "target"), f"no link joins '{a}' and '{b}'"))
        else:
            issues.append(
                (
                    ("outages", i, "target"),
                    f"'{outage.target}' is neither a server nor a link (ends joined by --)",
                )
            )
    issues += expansion_issues(s, users)
    return issues


def _sent_issues(s: Scenario, users: _UserIndex, loc: tuple[str, int], item: Any, what: str) -> list[tuple[Loc, str]]:
    """A scripted message's or campaign's sender must be a user, and its time within ``until``."""
    out: list[tuple[Loc, str]] = []
    if not users.is_user(item.from_):
        out.append(((*loc, "from"), f"'{item.from_}' is not the address of any user"))
    if s.until_s is not None and item.at_s > s.until_s:
        out.append(((*loc, "at"), f"{item.at_s!r} s is after until ({s.until_s!r} s): the {what} would never be sent"))
    return out


def _check_campaigns(s: Scenario, issues: list[tuple[Loc, str]], users: _UserIndex) -> None:
    for i, campaign in enumerate(s.campaigns):
        issues += _sent_issues(s, users, ("campaigns", i), campaign, "campaign")
        problems = [(j, users.endpoint_problem(selector)) for j, selector in enumerate(campaign.to)]
        for j, problem in problems:
            if problem:
                issues.append((("campaigns", i, "to", j) if len(campaign.to) > 1 else ("campaigns", i, "to"), problem))
        if any(problem for _, problem in problems):
            continue
        selected = _selected(s, campaign.to) - {campaign.from_}
        if not selected:
            issues.append((("campaigns", i, "to"), "selects no user but the sender: the campaign would go to nobody"))
        elif campaign.count is not None and campaign.count > len(selected):
            issues.append((("campaigns", i, "count"), f"{campaign.count} recipients wanted, but 'to' selects only "
                           f"{len(selected)} users (the sender left out)"))


def _selected(s: Scenario, selectors: tuple[str, ...]) -> set[str]:
    """The addresses of the users ``selectors`` name (domains, group prefixes, addresses)."""
    wanted = set(selectors)
    addresses: set[str] = set()
    for entry in s.users:
        if isinstance(entry, GroupSpec):
            if entry.domain in wanted or entry.prefix in wanted:
                addresses.update(entry.address(number) for number in range(1, entry.count + 1))
            else:
                addresses.update(selector for selector in wanted if "@" in selector and entry.contains(selector))
        elif entry.address in wanted or entry.domain in wanted:
            addresses.add(entry.address)
    return addresses


def _check_links(s: Scenario, issues: list[tuple[Loc, str]]) -> tuple[dict[str, set[str]], dict[frozenset[str], int]]:
    adjacency: dict[str, set[str]] = {}
    linked: dict[frozenset[str], int] = {}
    for i, link in enumerate(s.network.links):
        loc: Loc = ("network", "links", i, "between")
        adjacency.setdefault(link.a, set())
        adjacency.setdefault(link.b, set())
        if link.a == link.b:
            issues.append((loc, f"a link joins two different nodes, not '{link.a}' to itself"))
            continue
        pair = frozenset(link.between)
        if pair in linked:
            issues.append((loc, f"'{link.a}' and '{link.b}' are already joined by network.links.{linked[pair]}"))
            continue
        linked[pair] = i
        adjacency[link.a].add(link.b)
        adjacency[link.b].add(link.a)
    return adjacency, linked


def _check_servers(
    s: Scenario,
    issues: list[tuple[Loc, str]],
    adjacency: Mapping[str, set[str]],
    component: Mapping[str, int],
) -> dict[str, str]:
    holder: dict[str, str] = {}
    for name, server in s.servers.items():
        if name not in adjacency:
            issues.append((("servers", name), f"server '{name}' is not a network node: no link reaches it"))
        for j, domain in enumerate(server.domains):
            if domain in holder:
                where = "listed twice" if holder[domain] == name else f"already held by server '{holder[domain]}'"
                issues.append((("servers", name, "domains", j), f"domain '{domain}' is {where}"))
            else:
                holder[domain] = name
    user_nodes = {entry.at for entry in s.users}
    for name, server in s.servers.items():
        seen: set[str] = set()
        for j, domain in enumerate(server.relay_for):
            loc: Loc = ("servers", name, "relay_for", j)
            if domain in seen:
                issues.append((loc, f"domain '{domain}' is listed twice"))
            elif domain not in holder:
                issues.append((loc, f"no server holds domain '{domain}' (in its domains), so none to relay to"))
            elif holder[domain] == name:
                issues.append((loc, f"server '{name}' holds '{domain}' itself; relay_for is for other servers'"))
            seen.add(domain)
        if name in component and name not in user_nodes:  # users on the server's own node reach it
            others = (set(s.servers) | user_nodes) - {name}
            if not any(component.get(other) == component[name] for other in others):
                issues.append((("servers", name), f"server '{name}' is not connected to any other server or user"))
    return holder


def _check_dns(s: Scenario, issues: list[tuple[Loc, str]], holder: Mapping[str, str]) -> None:
    for domain, records in s.dns.items():
        if domain not in holder:
            issues.append((("dns", domain), f"'{domain}' is not a domain any server holds (servers.*.domains)"))
            continue
        hosts: set[str] = set()
        for j, record in enumerate(records):
            loc: Loc = ("dns", domain, j, "host")
            if record.host not in s.servers:
                issues.append((loc, f"'{record.host}' is not a server"))
            elif record.host != holder[domain] and domain not in s.servers[record.host].relay_for:
                issues.append((loc, f"server '{record.host}' neither holds '{domain}' nor has it in relay_for"))
            elif record.host in hosts:
                issues.append((loc, f"'{record.host}' is listed twice"))
            hosts.add(record.host)


class _UserIndex:
    """Checks users and answers "is this an address / group / domain with users?"."""

    def __init__(
        self,
        s: Scenario,
        issues: list[tuple[Loc, str]],
        holder: Mapping[str, str],
        adjacency: Mapping[str, set[str]],
        component: Mapping[str, int],
    ) -> None:
        self.holder = holder
        self.explicit: dict[str, int] = {}
        self.groups: list[tuple[int, GroupSpec]] = []
        self.prefixes: dict[str, int] = {}
        self.populated: set[str] = set()
        for i, entry in enumerate(s.users):
            domain = entry.domain
            domain_loc: Loc = (
                ("users", i, "group", "domain") if isinstance(entry, GroupSpec) else ("users", i, "address")
            )
            if entry.at not in adjacency:
                issues.append((("users", i, "at"), f"'{entry.at}' is not a network node (no link names it)"))
            elif domain in holder and holder[domain] in component and component[holder[domain]] != component[entry.at]:
                issues.append(
                    (
                        ("users", i, "at"),
                        f"node '{entry.at}' has no path to server '{holder[domain]}' holding '{domain}'",
                    )
                )
            if domain not in holder:
                issues.append((domain_loc, f"domain '{domain}' is not held by any server (servers.*.domains)"))
            self.populated.add(domain)
            if isinstance(entry, GroupSpec):
                self._add_group(i, entry, issues)
            elif entry.address in self.explicit:
                issues.append(
                    (
                        ("users", i, "address"),
                        f"duplicate address '{entry.address}' (also users.{self.explicit[entry.address]})",
                    )
                )
            else:
                self.explicit[entry.address] = i
        for address, i in self.explicit.items():
            for j, group in self.groups:
                if group.contains(address):
                    issues.append((("users", i, "address"), f"'{address}' is also a member of the group at users.{j}"))

    def _add_group(self, i: int, group: GroupSpec, issues: list[tuple[Loc, str]]) -> None:
        loc: Loc = ("users", i, "group", "prefix")
        if group.prefix in self.prefixes:
            issues.append(
                (loc, f"group prefix '{group.prefix}' is already used by users.{self.prefixes[group.prefix]}")
            )
            return
        if group.prefix in self.holder:
            issues.append(
                (
                    loc,
                    f"group prefix '{group.prefix}' is also a domain name; traffic could not tell them apart",
                )
            )
            return
        for j, other in self.groups:
            if group.overlaps(other):
                issues.append((loc, f"group addresses overlap those of the group at users.{j}"))
                return
        self.prefixes[group.prefix] = i
        self.groups.append((i, group))

    def is_user(self, address: str) -> bool:
        return address in self.explicit or any(group.contains(address) for _, group in self.groups)

    def endpoint_problem(self, value: str) -> str | None:
        if "@" in value:
            return None if self.is_user(value) else f"'{value}' is not the address of any user"
        if value in self.holder:
            return None if value in self.populated else f"domain '{value}' has no users"
        if value in self.prefixes:
            return None
        return f"'{value}' is neither a domain held by a server, a group prefix, nor a user's address"
