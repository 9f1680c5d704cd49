"""The root model :class:`Scenario`: the parts put together (``defaults`` merged under
the servers, MX records completed), the queries the simulation asks of it, the effective
scenario as YAML, and :meth:`Scenario.override`."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import Field, PrivateAttr, StrictInt, model_validator

from ..brief import brief
from ..limits import DEFAULT_MAX_MESSAGES
from .base import Spec
from .campaigns import CampaignSpec
from .checks import semantic_issues
from .errors import Problem, ScenarioError, SemanticError, raise_at
from .fields import DomainName, Name, NodeName, Seconds
from .lists import AliasSpec, ListSpec
from .network import LinkSpec, Network
from .outages import OutageSpec
from .overrides import OverrideError, assign
from .servers import MXRecord, ServerSpec, server_input
from .traffic import ScriptedMessage, TrafficSpec
from .users import GroupSpec, UserEntry, UserSpec


class Scenario(Spec):
    """A whole scenario, effective: every default filled in, quantities in SI units.

    ``servers`` have the file's ``defaults`` merged in; ``dns`` holds records for
    every domain (sorted by preference, then host); ``users`` are as written
    (groups unexpanded; see :meth:`expanded_users`).
    """

    _extra_keys: ClassVar[tuple[str, ...]] = ("defaults",)

    name: Name
    seed: StrictInt = Field(default=0, ge=0)
    duration_s: Seconds = Field(alias="duration")
    until_s: Seconds | None = Field(default=None, alias="until")
    network: Network
    servers: dict[NodeName, ServerSpec] = Field(min_length=1)
    dns: dict[DomainName, Annotated[tuple[MXRecord, ...], Field(min_length=1)]] = Field(default_factory=dict)
    users: tuple[UserEntry, ...] = ()
    traffic: tuple[TrafficSpec, ...] = ()
    messages: tuple[ScriptedMessage, ...] = ()
    campaigns: tuple[CampaignSpec, ...] = ()
    outages: tuple[OutageSpec, ...] = ()
    lists: tuple[ListSpec, ...] = ()
    aliases: tuple[AliasSpec, ...] = ()

    _raw: dict[str, Any] | None = PrivateAttr(default=None)
    _max_messages: int = PrivateAttr(default=DEFAULT_MAX_MESSAGES)  # the limit it was validated against
    _cache: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        defaults = data.pop("defaults", None)
        if defaults is not None and not isinstance(defaults, Mapping):
            raise_at([(("defaults",), f"must be a mapping of server keys, got {brief(defaults)}")], defaults)
        servers = data.get("servers")
        if isinstance(servers, Mapping):
            data["servers"] = {name: server_input(name, spec, defaults or {}) for name, spec in servers.items()}
        return data

    @model_validator(mode="after")
    def _check_and_complete(self) -> Scenario:
        issues = semantic_issues(self)
        if issues:
            raise SemanticError(issues)
        dns: dict[str, tuple[MXRecord, ...]] = {}
        for name, server in self.servers.items():
            for domain in server.domains:
                records = self.dns.get(domain) or (MXRecord(host=name, preference=0),)
                dns[domain] = tuple(sorted(records, key=lambda record: (record.preference, record.host)))
        self.__dict__["dns"] = dns
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]

    # ----------------------------------------------------------------- queries

    @property
    def max_messages(self) -> int:
        """The limit on expected mail this scenario was validated against (kept by :meth:`override`)."""
        return self._max_messages

    @property
    def links(self) -> tuple[LinkSpec, ...]:
        return self.network.links

    def nodes(self) -> set[str]:
        """Every node named by a link."""
        return {node for link in self.network.links for node in link.between}

    def link(self, a: str, b: str) -> LinkSpec | None:
        """The link joining ``a`` and ``b`` (either order), if any."""
        for link in self.network.links:
            if {link.a, link.b} == {a, b}:
                return link
        return None

    def domains(self) -> dict[str, str]:
        """Every defined domain and the server holding its mailboxes."""
        return {domain: name for name, server in self.servers.items() for domain in server.domains}

    def server_for_domain(self, domain: str) -> str:
        """The server holding ``domain``'s mailboxes (KeyError if no server does)."""
        for name, server in self.servers.items():
            if domain in server.domains:
                return name
        raise KeyError(f"no server holds domain {domain!r}")

    def expanded_users(self) -> tuple[UserSpec, ...]:
        """All users, groups expanded in place (``staff001`` ... first to last)."""
        cached = self._cache.get("expanded_users")
        if cached is None:
            expanded: list[UserSpec] = []
            for entry in self.users:
                if isinstance(entry, GroupSpec):
                    expanded.extend(entry.expand())
                else:
                    expanded.append(entry)
            cached = self._cache["expanded_users"] = tuple(expanded)
        return cached

    def user(self, address: str) -> UserSpec | None:
        """The user with ``address``, or None."""
        by_address = self._cache.get("by_address")
        if by_address is None:
            by_address = self._cache["by_address"] = {u.address: u for u in self.expanded_users()}
        return by_address.get(address)

    def users_of(self, endpoint: str) -> tuple[UserSpec, ...]:
        """The users a traffic ``from``/``to`` names: a domain, a group prefix or an address."""
        if "@" in endpoint:
            user = self.user(endpoint)
            return () if user is None else (user,)
        if endpoint in self.domains():
            return tuple(user for user in self.expanded_users() if user.domain == endpoint)
        return tuple(user for user in self.expanded_users() if user.group == endpoint)

    # ----------------------------------------------------------------- output

    def to_effective_dict(self) -> dict[str, object]:
        """The effective scenario as plain data in the file's own key names (SI numbers);
        ``lists`` and ``aliases`` only when there are some."""
        effective: dict[str, object] = {
            "name": self.name,
            "seed": self.seed,
            "duration": self.duration_s,
            "until": self.until_s,
            "network": {"links": [link.to_yaml() for link in self.network.links]},
            "servers": {name: server.to_yaml() for name, server in self.servers.items()},
            "dns": {
                domain: [{"host": record.host, "preference": record.preference} for record in records]
                for domain, records in self.dns.items()
            },
            "users": [entry.to_yaml() for entry in self.users],
            "traffic": [traffic.to_yaml() for traffic in self.traffic],
            "messages": [message.to_yaml() for message in self.messages],
            # only when there are some: the effective scenario (and run id) of a file without stays as it was
            **({"campaigns": [campaign.to_yaml() for campaign in self.campaigns]} if self.campaigns else {}),
            "outages": [outage.to_yaml() for outage in self.outages],
        }
        if self.lists:
            effective["lists"] = [entry.to_yaml() for entry in self.lists]
        if self.aliases:
            effective["aliases"] = [alias.to_yaml() for alias in self.aliases]
        return effective

    def to_effective_yaml(self) -> str:
        """The effective scenario as YAML: every default filled in, quantities as
        plain numbers in seconds, bytes, bits/s and events/s.  Loading it gives an
        equal Scenario."""
        header = (
            "# Effective scenario: every default filled in.\n"
            "# Units: seconds, bytes, bits per second, events per second.\n"
        )
        body = yaml.dump(
            self.to_effective_dict(),
            Dumper=_EffectiveDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=100,
        )
        return header + body

    def override(self, changes: Mapping[str, object] | Iterable[tuple[str, object]]) -> Scenario:
        """A new scenario with ``changes`` applied to the file's mapping, re-validated.

        Keys are dotted paths (``"servers.mx.beta.retry.interval": "15m"``,
        ``"network.links.1.bandwidth": "10Mbps"``); each segment matches the
        longest existing key, so names with dots work.  A new entry under
        ``servers`` or ``dns`` takes the whole rest of the path as its name and
        needs a mapping or list value.  ``changes`` may also be (key, value) pairs.  Problems
        raise :class:`ScenarioError`.
        """
        pairs = _change_pairs(changes)
        raw = copy.deepcopy(self._raw) if self._raw is not None else self.to_effective_dict()
        problems: list[Problem] = []
        for dotted, value in pairs:
            try:
                assign(raw, dotted, copy.deepcopy(value))
            except OverrideError as error:
                problems.append(Problem(str(dotted), str(error)))
        if problems:
            raise ScenarioError(problems)
        from .loading import build  # it validates with this model

        return build(raw, None, max_messages=self._max_messages)


def _change_pairs(changes: object) -> list[tuple[Any, object]]:
    """The (dotted key, value) pairs of ``changes``: a mapping, or pairs; ScenarioError otherwise."""
    if isinstance(changes, Mapping):
        return list(changes.items())
    if not isinstance(changes, str | bytes) and isinstance(changes, Iterable):
        pairs = list(changes)
        if all(isinstance(pair, tuple | list) and len(pair) == 2 for pair in pairs):
            return [(key, value) for key, value in pairs]
    raise ScenarioError([Problem("", f"overrides are a mapping of dotted keys to values (or (key, value) pairs), "
                                     f"got {brief(changes)}")])


_SafeDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's emitter where PyYAML was built with it, in about a third of the time (0.4 s less for the
benchmark's scenario). Its text is the pure-Python emitter's for every scenario in ``scenarios/`` and
the benchmark's; the two escape a few characters differently (an emoji, ``\\x85``), and both read back
equal. A machine writes the same text run after run either way."""


class _EffectiveDumper(_SafeDumper):
    """Safe YAML output; short lists of plain values in flow style (``between: [a, b]``)."""


def _represent_list(dumper: Any, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(item, str | int | float | bool) or item is None for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_EffectiveDumper.add_representer(list, _represent_list)
