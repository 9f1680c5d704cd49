"""The scenario: a typed, frozen, validated description of one simulation.

This module owns the scenario file format of SCENARIO.md and everything between
the YAML text and the :class:`Scenario` object the simulation reads:

- loading YAML safely, remembering the line of every key and list item;
- structural validation with pydantic (types, units, ranges, unknown keys);
- semantic validation (names that must resolve: nodes, servers, domains, users,
  links), collecting every problem, each with its dotted key path and line;
- filling every default (server ``defaults``, retry policies, access protocols,
  MX records), so that the simulation never guesses;
- the effective scenario as YAML (plain SI numbers) that loads back equal,
  dotted-key overrides, and a JSON Schema of the format for editors.

Errors are :class:`ScenarioError`, one :class:`Problem` per mistake, printed as
``servers.mx.beta.retry.intervall: unknown key 'intervall'; did you mean 'interval'? (line 8)``.
Paths are YAML key paths; list items are numbered from 0; a server or domain
name containing dots stays one segment.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NoReturn, TypeAlias

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from .brief import brief
from .limits import DEFAULT_MAX_MESSAGES, check_max_messages, scenario_duration, scenario_size
from .randomness import Choice, Constant, Distribution, DistributionError, parse_distribution
from .retry import DEFAULT_EXIM_RULE, POLICY_DEFAULTS, POLICY_KEYS, exim_give_up_s, parse_exim_rule
from .safe_yaml import AliasExpansionError, BoundedLoader
from .units import (
    BANDWIDTH_PATTERN,
    DURATION_PATTERN,
    RATE_PATTERN,
    SIZE_PATTERN,
    parse_bandwidth,
    parse_duration,
    parse_rate,
)
from .wording import counted

__all__ = [
    "ACCESS_POLL_DEFAULTS_S",
    "EXIM_DEFAULT_RULE",
    "RETRY_DEFAULTS",
    "RETRY_POLICY_KEYS",
    "AccessSpec",
    "AttachmentSpec",
    "GroupMembers",
    "GroupSpec",
    "LinkSpec",
    "MXRecord",
    "Network",
    "OutageSpec",
    "Problem",
    "RetrySpec",
    "Scenario",
    "ScenarioError",
    "ScriptedMessage",
    "ServerSpec",
    "TrafficSpec",
    "UserSpec",
    "load_scenario",
    "scenario_from_dict",
    "scenario_json_schema",
]

Loc: TypeAlias = tuple[str | int, ...]
"""A key path inside the scenario mapping: keys are strings, list items ints."""


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a scenario: where (dotted key path, file line) and what."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return text if self.line is None else f"{text} (line {self.line})"


class ScenarioError(Exception):
    """A scenario that cannot be used; ``problems`` lists every mistake found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class _SemanticError(ScenarioError):
    """Raised from inside model validation; ``issues`` keep the raw key paths."""

    def __init__(self, issues: list[tuple[Loc, str]]) -> None:
        self.issues = issues
        super().__init__(Problem(_dotted(loc), message) for loc, message in issues)


def _dotted(loc: Iterable[str | int]) -> str:
    return ".".join(str(segment) for segment in loc)


def _raise(issues: Iterable[tuple[Loc, str]], value: object) -> NoReturn:
    """Raise a pydantic ValidationError with one error per issue, at the issue's path."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("scenario", "{message}", {"message": message}),
            loc=loc,
            input=value,
        )
        for loc, message in issues
    ]
    raise ValidationError.from_exception_data("Scenario", details)


def _unknown_key_message(key: object, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key '{key}'; did you mean '{close[0]}'?"
    if allowed:
        return f"unknown key '{key}'; the keys here are: {', '.join(allowed)}"
    return f"unknown key '{key}'"


# --------------------------------------------------------------------------- field types


def _quantity(pattern: str) -> dict[str, Any]:
    """JSON Schema of a quantity: a number in SI units, or a string with units that ``pattern`` matches."""
    return {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": pattern}]}


_DURATION_SCHEMA = _quantity(DURATION_PATTERN)
_SIZE_SCHEMA = _quantity(SIZE_PATTERN)


def _quantity_schema(pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema({**_quantity(pattern), "description": description})


_SECONDS_HELP = "a duration: 250ms, 30s, 30m (minutes), 2h, 5d, 1d2h, or a number of seconds"
_BYTES_HELP = "a size: 512B, 75KB, 10KiB, 25MB, 2MiB, 1GB, or a number of bytes"
_BPS_HELP = "a bandwidth: 56kbps, 100Mbps, 1Gbps, or a number of bits per second"
_RATE_HELP = "a rate: 40/d, 5/h, 0.5/m, 2/s, or a number of events per second"

Seconds = Annotated[float, BeforeValidator(scenario_duration), _quantity_schema(DURATION_PATTERN, _SECONDS_HELP)]
PositiveSeconds = Annotated[Seconds, Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(scenario_size), _quantity_schema(SIZE_PATTERN, _BYTES_HELP)]
BitsPerSecond = Annotated[
    float, BeforeValidator(parse_bandwidth), Field(gt=0), _quantity_schema(BANDWIDTH_PATTERN, _BPS_HELP)
]
PerSecond = Annotated[float, BeforeValidator(parse_rate), _quantity_schema(RATE_PATTERN, _RATE_HELP)]

_OFF_WORDS = frozenset({"off", "never", "none"})


def _seconds_or_off(value: object) -> float | None:
    if value is None or value is False:
        return None
    if isinstance(value, str) and value.strip().lower() in _OFF_WORDS:
        return None
    return scenario_duration(value)


_OFF_PATTERN = r"^\s*(?:" + "|".join(
    "".join(f"[{c}{c.upper()}]" for c in word) for word in sorted(_OFF_WORDS)
) + r")\s*$"

OptionalSecondsOrOff = Annotated[
    float | None,
    BeforeValidator(_seconds_or_off),
    WithJsonSchema(
        {
            "anyOf": [
                *_DURATION_SCHEMA["anyOf"],
                {"type": "string", "pattern": _OFF_PATTERN},
                {"type": "null"},
                {"const": False},
            ],
            "description": _SECONDS_HELP + "; off (or null) to disable",
        }
    ),
]


def _plain_name(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if any(character.isspace() for character in value):
        raise ValueError(f"{value!r} must not contain spaces")
    return value


def _node_name(value: str) -> str:
    _plain_name(value)
    if "--" in value:
        raise ValueError(f"{value!r} must not contain '--' (it joins the two ends of a link's name)")
    return value


def _domain_name(value: str) -> str:
    _plain_name(value)
    if "@" in value:
        raise ValueError(f"{value!r} is a domain and must not contain '@'")
    return value


def _address(value: str) -> str:
    _plain_name(value)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise ValueError(f"{value!r} is not an address of the form local@domain")
    return value


def _group_prefix(value: str) -> str:
    _plain_name(value)
    if "@" in value:
        raise ValueError(f"{value!r} is a prefix of local parts and must not contain '@'")
    return value


Name = Annotated[StrictStr, AfterValidator(_plain_name)]
NodeName = Annotated[StrictStr, AfterValidator(_node_name)]
DomainName = Annotated[StrictStr, AfterValidator(_domain_name)]
Address = Annotated[StrictStr, AfterValidator(_address)]


def _distribution_schema(value_schema: dict[str, Any], description: str) -> dict[str, Any]:
    def kind(name: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                name: {
                    "type": "object",
                    "properties": params,
                    "required": list(params),
                    "additionalProperties": False,
                }
            },
            "required": [name],
            "additionalProperties": False,
        }

    choice = {
        "type": "object",
        "properties": {
            "choice": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "array",
                    "prefixItems": [value_schema, {"type": "number", "minimum": 0}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            }
        },
        "required": ["choice"],
        "additionalProperties": False,
    }
    return {
        "description": description,
        "anyOf": [
            value_schema,
            kind("exponential", {"mean": value_schema}),
            kind("lognormal", {"median": value_schema, "sigma": {"type": "number", "minimum": 0}}),
            kind("uniform", {"low": value_schema, "high": value_schema}),
            choice,
        ],
    }


def _parse_count(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number of recipients")
    if value < 0:
        raise ValueError(f"{value!r} is not a number of recipients: it must not be negative")
    return float(value)


def _size_distribution(value: object) -> Distribution:
    try:
        return parse_distribution(value, scenario_size)
    except DistributionError as error:
        _raise([(error.path, error.message)], value)


def _is_count(value: float) -> bool:
    return value >= 1 and float(value).is_integer()


def _recipients_distribution(value: object) -> Distribution:
    try:
        distribution = parse_distribution(value, _parse_count)
    except DistributionError as error:
        _raise([(error.path, error.message)], value)
    if isinstance(distribution, Constant) and not _is_count(distribution.value):
        _raise([((), f"recipients must be a whole number >= 1, got {value!r}")], value)
    if isinstance(distribution, Choice):
        bad: list[tuple[Loc, str]] = [
            (("choice", i, 0), f"recipients must be whole numbers >= 1, got {v!r}")
            for i, v in enumerate(distribution.values)
            if not _is_count(v)
        ]
        if bad:
            _raise(bad, value)
    return distribution


def _to_yaml(distribution: Distribution) -> object:
    return distribution.to_yaml()


SizeDistribution = Annotated[
    Distribution,
    PlainValidator(_size_distribution),
    PlainSerializer(_to_yaml),
    WithJsonSchema(
        _distribution_schema(_SIZE_SCHEMA, "a size or a distribution of sizes; values in bytes or with units (10KB)")
    ),
]
def _duration_distribution(value: object) -> Distribution:
    try:
        return parse_distribution(value, scenario_duration)
    except DistributionError as error:
        _raise([(error.path, error.message)], value)


DurationDistribution = Annotated[
    Distribution,
    PlainValidator(_duration_distribution),
    PlainSerializer(_to_yaml),
    WithJsonSchema(
        _distribution_schema(
            _DURATION_SCHEMA, "a duration or a distribution of durations; values in seconds or with units (5m)"
        )
    ),
]
RecipientsDistribution = Annotated[
    Distribution,
    PlainValidator(_recipients_distribution),
    PlainSerializer(_to_yaml),
    WithJsonSchema(
        _distribution_schema(
            {"type": "number", "minimum": 1},
            "a whole number of recipients or a distribution (draws are rounded, at least 1)",
        )
    ),
]


# --------------------------------------------------------------------------- models


class _Spec(BaseModel):
    """Base of every scenario model: frozen, strict about keys, YAML names as aliases."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    _hidden_keys: ClassVar[frozenset[str]] = frozenset()  # filled in by the loader, not YAML keys
    _extra_keys: ClassVar[tuple[str, ...]] = ()  # YAML keys the loader turns into fields

    @classmethod
    def yaml_keys(cls) -> tuple[str, ...]:
        """The keys this part of the file accepts, by their YAML names."""
        keys = [field.alias or name for name, field in cls.model_fields.items()]
        return tuple(key for key in keys if key not in cls._hidden_keys) + cls._extra_keys

    @classmethod
    def _by_alias(cls, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """``data`` with Python field names (``interval_s``) renamed to YAML keys (``interval``)."""
        names = {name: field.alias for name, field in cls.model_fields.items() if field.alias}
        return {names.get(key, key) if isinstance(key, str) else key: value for key, value in data.items()}


class LinkSpec(_Spec):
    """A bidirectional link between two nodes (YAML ``{between: [a, b], latency, bandwidth}``)."""

    between: tuple[NodeName, NodeName]
    latency_s: Seconds = Field(alias="latency")
    bandwidth_bps: BitsPerSecond | None = Field(default=None, alias="bandwidth")

    @property
    def a(self) -> str:
        return self.between[0]

    @property
    def b(self) -> str:
        return self.between[1]

    @property
    def name(self) -> str:
        """The link's name as outages write it: ``a--b``."""
        return f"{self.a}--{self.b}"

    def to_yaml(self) -> dict[str, object]:
        return {"between": [self.a, self.b], "latency": self.latency_s, "bandwidth": self.bandwidth_bps}


class Network(_Spec):
    """The topology: links between named nodes."""

    links: tuple[LinkSpec, ...] = Field(min_length=1)


RetryPolicy: TypeAlias = Literal["fixed", "postfix", "exim", "exchange", "backoff"]

EXIM_DEFAULT_RULE = DEFAULT_EXIM_RULE
"""Exim's default retry rule (its configure file): fixed, then geometric, then fixed."""

RETRY_POLICY_KEYS = POLICY_KEYS
"""The keys (besides ``policy``) each retry policy takes, by YAML name (defined in :mod:`simulator.retry`)."""

RETRY_DEFAULTS = POLICY_DEFAULTS
"""Effective defaults per retry policy, in seconds (``warn_after`` None = no warning), from
:mod:`simulator.retry`. For ``exim`` with its own ``rule`` and no ``give_up``, give_up is the
rule's last cutoff.
"""


def _exim_rule(rule: str | None) -> str | None:
    if rule is not None:
        parse_exim_rule(rule)  # the retry module reads it; its errors name the offending step
    return rule


class RetrySpec(_Spec):
    """How a server retries a message whose delivery attempt failed.

    Every field is filled with the policy's effective default (``RETRY_DEFAULTS``);
    fields a policy does not use are None.  ``warn_after_s`` None means no
    delay warning.
    """

    policy: RetryPolicy = "fixed"
    interval_s: PositiveSeconds | None = Field(default=None, alias="interval")
    give_up_s: Seconds | None = Field(default=None, alias="give_up")
    warn_after_s: OptionalSecondsOrOff = Field(default=None, alias="warn_after")
    initial_s: PositiveSeconds | None = Field(default=None, alias="initial")
    factor: Annotated[StrictFloat, Field(ge=1)] | None = None
    max_s: PositiveSeconds | None = Field(default=None, alias="max")
    min_backoff_s: PositiveSeconds | None = Field(default=None, alias="min_backoff")
    max_backoff_s: PositiveSeconds | None = Field(default=None, alias="max_backoff")
    rule: Annotated[StrictStr | None, AfterValidator(_exim_rule)] = None
    queue_run_delay_s: Seconds | None = Field(default=None, alias="queue_run_delay")
    queue_interval_s: Seconds | None = Field(default=None, alias="queue_interval")
    queue_phase_s: Seconds | None = Field(default=None, alias="queue_phase")

    @model_validator(mode="before")
    @classmethod
    def _policy_keys_and_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = cls._by_alias(data)
        policy = data.get("policy", "fixed")
        if not isinstance(policy, str) or policy not in RETRY_POLICY_KEYS:
            return data  # the Literal reports it
        allowed = RETRY_POLICY_KEYS[policy]
        known = cls.yaml_keys()
        misplaced = [key for key in data if key in known and key != "policy" and key not in allowed]
        if misplaced:
            issues: list[tuple[Loc, str]] = [
                ((key,), _unknown_key_message(key, known)) for key in data if key not in known
            ]
            issues += [
                (
                    (key,),
                    f"'{key}' does not apply to retry policy '{policy}' (it takes: {', '.join(allowed)})",
                )
                for key in misplaced
            ]
            _raise(issues, data)
        filled = {"policy": policy, **data}
        defaults = dict(RETRY_DEFAULTS[policy])
        if policy == "exim" and "give_up" not in data and isinstance(data.get("rule"), str):
            with contextlib.suppress(ValueError):  # the rule's own validator reports it
                defaults["give_up"] = exim_give_up_s(data["rule"])
        for key, value in defaults.items():
            filled.setdefault(key, value)
        return filled

    @model_validator(mode="after")
    def _check_bounds(self) -> RetrySpec:
        if self.max_s is not None and self.initial_s is not None and self.max_s < self.initial_s:
            _raise([(("max",), f"max ({self.max_s} s) must not be below initial ({self.initial_s} s)")], self)
        low, high = self.min_backoff_s, self.max_backoff_s
        if low is not None and high is not None and high < low:
            _raise([(("max_backoff",), f"max_backoff ({high} s) must not be below min_backoff ({low} s)")], self)
        return self

    def to_yaml(self) -> dict[str, object]:
        values = {
            "interval": self.interval_s,
            "give_up": self.give_up_s,
            "warn_after": self.warn_after_s,
            "initial": self.initial_s,
            "factor": self.factor,
            "max": self.max_s,
            "min_backoff": self.min_backoff_s,
            "max_backoff": self.max_backoff_s,
            "rule": self.rule,
            "queue_run_delay": self.queue_run_delay_s,
            "queue_interval": self.queue_interval_s,
            "queue_phase": self.queue_phase_s,
        }
        return {"policy": self.policy} | {key: values[key] for key in RETRY_POLICY_KEYS[self.policy]}


class GreylistSpec(_Spec):
    """Greylisting (RFC 6647) with postgrey's defaults: an unknown (client, sender, recipient)
    triplet gets 450 4.7.1 until ``delay`` has passed since it was first seen; a retry after
    that passes and the triplet is known for ``max_age``; a triplet not retried within
    ``retry_window`` starts over."""

    delay_s: Seconds = Field(default=300.0, alias="delay")
    retry_window_s: PositiveSeconds = Field(default=172_800.0, alias="retry_window")
    max_age_s: PositiveSeconds = Field(default=3_024_000.0, alias="max_age")

    def to_yaml(self) -> dict[str, object]:
        return {"delay": self.delay_s, "retry_window": self.retry_window_s, "max_age": self.max_age_s}


class ServerSpec(_Spec):
    """A mail server (effective: the scenario's ``defaults`` merged under it)."""

    _hidden_keys: ClassVar[frozenset[str]] = frozenset({"name"})

    name: NodeName
    domains: tuple[DomainName, ...] = ()
    relay_for: tuple[DomainName, ...] = ()
    retry: RetrySpec = Field(default_factory=RetrySpec)
    connect_timeout_s: PositiveSeconds = Field(default=30.0, alias="connect_timeout")
    concurrency: StrictInt = Field(default=100, ge=1)
    max_message_size_bytes: Bytes = Field(default=10_240_000, alias="max_message_size", gt=0)
    pipelining: StrictBool = True
    eight_bit_mime: StrictBool = True
    greylisting: GreylistSpec | None = None

    def to_yaml(self) -> dict[str, object]:
        return {
            "domains": list(self.domains),
            "relay_for": list(self.relay_for),
            "retry": self.retry.to_yaml(),
            "connect_timeout": self.connect_timeout_s,
            "concurrency": self.concurrency,
            "max_message_size": self.max_message_size_bytes,
            "pipelining": self.pipelining,
            "eight_bit_mime": self.eight_bit_mime,
            "greylisting": None if self.greylisting is None else self.greylisting.to_yaml(),
        }


class MXRecord(_Spec):
    """An MX record: lower preference is tried first."""

    host: NodeName
    preference: StrictInt = Field(ge=0, le=65535)


Protocol: TypeAlias = Literal["pop3", "imap", "http"]

ACCESS_POLL_DEFAULTS_S: dict[str, float] = {"pop3": 600.0, "imap": 60.0, "http": 600.0}
"""Effective ``poll`` per protocol: POP3 and webmail check every 10 minutes
(Thunderbird's check_time); IMAP reconnects (or, without IDLE, NOOPs) every minute."""

_PROTOCOL_ONLY_KEYS = {"keep": "pop3", "idle": "imap"}


def _offsets(value: object) -> float | tuple[float, ...]:
    """``offset``: one duration (every device), or a list with one duration per device."""
    if isinstance(value, list | tuple):
        offsets: list[float] = []
        issues: list[tuple[Loc, str]] = []
        for index, item in enumerate(value):
            try:
                offsets.append(scenario_duration(item))
            except ValueError as error:
                issues.append(((index,), str(error)))
        if issues:
            _raise(issues, value)
        if not offsets:
            raise ValueError("a list of offsets needs one duration per device")
        return tuple(offsets)
    return scenario_duration(value)


Offsets = Annotated[
    float | tuple[float, ...],
    PlainValidator(_offsets),
    WithJsonSchema(
        {
            "anyOf": [_DURATION_SCHEMA, {"type": "array", "items": _DURATION_SCHEMA, "minItems": 1}],
            "description": "the first poll time: " + _SECONDS_HELP + "; or a list of them, one per device",
        }
    ),
]


class AccessSpec(_Spec):
    """How a user's devices read mail."""

    protocol: Protocol = "imap"
    devices: StrictInt = Field(default=1, ge=1)
    poll_s: PositiveSeconds | None = Field(default=None, alias="poll")
    offset_s: Offsets | None = Field(default=None, alias="offset")
    keep: StrictBool = False
    idle: StrictBool = True

    @model_validator(mode="before")
    @classmethod
    def _protocol_keys_and_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = cls._by_alias(data)
        protocol = data.get("protocol", "imap")
        if not isinstance(protocol, str) or protocol not in ACCESS_POLL_DEFAULTS_S:
            return data  # the Literal reports it
        misplaced = [key for key, only in _PROTOCOL_ONLY_KEYS.items() if key in data and protocol != only]
        if misplaced:
            _raise(
                [
                    ((key,), f"'{key}' applies to protocol {_PROTOCOL_ONLY_KEYS[key]} only, not {protocol}")
                    for key in misplaced
                ],
                data,
            )
        filled = {"protocol": protocol, **data}
        filled.setdefault("poll", ACCESS_POLL_DEFAULTS_S[protocol])
        return filled

    @model_validator(mode="after")
    def _one_offset_per_device(self) -> AccessSpec:
        if isinstance(self.offset_s, tuple) and len(self.offset_s) != self.devices:
            _raise([(("offset",), f"a list of offsets has one per device: {len(self.offset_s)} given for "
                     f"{self.devices} device(s)")], self)
        return self

    def device_offset_s(self, device: int) -> float | None:
        """The offset of device number ``device`` (from 1), or None when it is drawn at random."""
        if isinstance(self.offset_s, tuple):
            return self.offset_s[device - 1]
        return self.offset_s

    def to_yaml(self) -> dict[str, object]:
        offset = list(self.offset_s) if isinstance(self.offset_s, tuple) else self.offset_s
        result: dict[str, object] = {
            "protocol": self.protocol,
            "devices": self.devices,
            "poll": self.poll_s,
            "offset": offset,
        }
        if self.protocol == "pop3":
            result["keep"] = self.keep
        if self.protocol == "imap":
            result["idle"] = self.idle
        return result


class UserSpec(_Spec):
    """One mailbox owner; ``group`` is the prefix of the group it was expanded from."""

    _hidden_keys: ClassVar[frozenset[str]] = frozenset({"group"})

    address: Address
    at: NodeName
    access: AccessSpec = Field(default_factory=AccessSpec)
    group: SkipJsonSchema[str | None] = None

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    def to_yaml(self) -> dict[str, object]:
        return {"address": self.address, "at": self.at, "access": self.access.to_yaml()}


class GroupMembers(_Spec):
    """The ``group:`` mapping: ``count`` users ``<prefix><number>@<domain>``."""

    prefix: Annotated[StrictStr, AfterValidator(_group_prefix)]
    count: StrictInt = Field(ge=1)
    domain: DomainName


class GroupSpec(_Spec):
    """Many alike users: ``staff001@beta.example`` ... ``staff200@beta.example``.

    Numbers are zero-padded to the width of ``count``, at least 3 digits.
    """

    group: GroupMembers
    at: NodeName
    access: AccessSpec = Field(default_factory=AccessSpec)

    @property
    def prefix(self) -> str:
        return self.group.prefix

    @property
    def count(self) -> int:
        return self.group.count

    @property
    def domain(self) -> str:
        return self.group.domain

    @property
    def width(self) -> int:
        """Digits in each member's number."""
        return max(3, len(str(self.count)))

    def address(self, number: int) -> str:
        """The address of member ``number`` (1-based)."""
        return f"{self.prefix}{number:0{self.width}d}@{self.domain}"

    def contains(self, address: str) -> bool:
        """Whether ``address`` is one of this group's members."""
        local, _, domain = address.rpartition("@")
        if domain != self.domain or not local.startswith(self.prefix):
            return False
        digits = local[len(self.prefix) :]
        return len(digits) == self.width and digits.isascii() and digits.isdigit() and 1 <= int(digits) <= self.count

    def overlaps(self, other: GroupSpec) -> bool:
        """Whether some address is a member of both groups, worked out from the prefixes,
        widths and counts (no member is listed, so any count takes no time)."""
        if self.domain != other.domain:
            return False
        short, long = sorted((self, other), key=lambda group: len(group.prefix))
        if not long.prefix.startswith(short.prefix):
            return False
        extra = long.prefix[len(short.prefix) :]  # digits long's prefix adds to a number of short's
        if extra and not (extra.isascii() and extra.isdigit()):
            return False
        if len(extra) + long.width != short.width:
            return False
        # long's members read as short's numbers: extra followed by 1 .. long.count
        return (int(extra) * 10**long.width if extra else 0) + 1 <= short.count

    def expand(self) -> tuple[UserSpec, ...]:
        """The members as users (constructed without re-validation: the group is valid)."""
        prefix, width, domain, at, access = self.prefix, self.width, self.domain, self.at, self.access
        construct = UserSpec.model_construct
        return tuple(
            construct(address=f"{prefix}{number:0{width}d}@{domain}", at=at, access=access, group=prefix)
            for number in range(1, self.count + 1)
        )

    def to_yaml(self) -> dict[str, object]:
        return {
            "group": {"prefix": self.prefix, "count": self.count, "domain": self.domain},
            "at": self.at,
            "access": self.access.to_yaml(),
        }


def _user_entry(value: Any, handler: Any) -> UserSpec | GroupSpec:
    if isinstance(value, UserSpec | GroupSpec):
        return value
    if isinstance(value, Mapping):
        if "group" in value and "address" in value:
            _raise([(("address",), "a user entry has address (one user) or group (many users), not both")], value)
        if "group" in value:
            return GroupSpec.model_validate(value)
        return UserSpec.model_validate(value)
    raise ValueError(f"a user entry is a mapping, {{address, at, access}} or {{group, at, access}}, got {brief(value)}")


UserEntry = Annotated[UserSpec | GroupSpec, WrapValidator(_user_entry)]


class AttachmentSpec(_Spec):
    """Attachments of generated messages: each message has one with ``probability``."""

    probability: StrictFloat = Field(ge=0, le=1)
    size: SizeDistribution

    def to_yaml(self) -> dict[str, object]:
        return {"probability": self.probability, "size": self.size.to_yaml()}


class ReplySpec(_Spec):
    """A recipient replies to a message it has read with ``probability``, ``think`` later."""

    probability: StrictFloat = Field(ge=0, le=1)
    think: DurationDistribution = Field(default=Constant(300.0), json_schema_extra={"default": 300})

    def to_yaml(self) -> dict[str, object]:
        return {"probability": self.probability, "think": self.think.to_yaml()}


class ForwardSpec(ReplySpec):
    """A recipient forwards a message it has read to a user drawn from ``to`` (default: the entry's ``to``)."""

    to: Name | None = None

    def to_yaml(self) -> dict[str, object]:
        return {**super().to_yaml(), "to": self.to}


class FileSpec(ReplySpec):
    """A recipient files a message it has read into ``folder`` (on the server for IMAP and webmail)."""

    folder: Name = "Archive"

    def to_yaml(self) -> dict[str, object]:
        return {**super().to_yaml(), "folder": self.folder}


class TrafficSpec(_Spec):
    """A Poisson workload: each sending user sends ``rate`` messages per second.

    ``from``/``to`` name a domain, a group prefix or an address.
    """

    from_: Name = Field(alias="from")
    to: Name
    rate_per_s: PerSecond = Field(alias="rate")
    recipients: RecipientsDistribution = Field(default=Constant(1), json_schema_extra={"default": 1})
    size: SizeDistribution
    attachments: AttachmentSpec | None = None
    eight_bit: StrictFloat = Field(default=0.0, ge=0, le=1)
    reply: ReplySpec | None = None
    forward: ForwardSpec | None = None
    file: FileSpec | None = None

    def to_yaml(self) -> dict[str, object]:
        return {
            "from": self.from_,
            "to": self.to,
            "rate": self.rate_per_s,
            "recipients": self.recipients.to_yaml(),
            "size": self.size.to_yaml(),
            "attachments": None if self.attachments is None else self.attachments.to_yaml(),
            "eight_bit": self.eight_bit,
            **{
                key: spec.to_yaml()
                for key, spec in (("reply", self.reply), ("forward", self.forward), ("file", self.file))
                if spec is not None
            },
        }


def _one_or_many(value: object) -> object:
    return (value,) if isinstance(value, str) else value


class ScriptedMessage(_Spec):
    """One message sent at an exact time, for exact experiments."""

    at_s: Seconds = Field(alias="at")
    from_: Address = Field(alias="from")
    to: Annotated[
        tuple[Address, ...],
        BeforeValidator(_one_or_many),
        Field(min_length=1),
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}),
    ]
    size_bytes: Bytes = Field(alias="size")
    attachment_bytes: Bytes | None = Field(default=None, alias="attachment")
    eight_bit: StrictBool = False

    def to_yaml(self) -> dict[str, object]:
        return {
            "at": self.at_s,
            "from": self.from_,
            "to": list(self.to),
            "size": self.size_bytes,
            "attachment": self.attachment_bytes,
            "eight_bit": self.eight_bit,
        }


class OutageSpec(_Spec):
    """A server or link failure: scheduled (``start`` with ``end`` or ``duration``) or
    random (``mtbf`` and ``mttr``: exponential up and down times).

    A scheduled outage is held effective as ``start_s``/``end_s``.
    """

    _extra_keys: ClassVar[tuple[str, ...]] = ("duration",)

    target: Name
    start_s: Seconds | None = Field(default=None, alias="start")
    end_s: Seconds | None = Field(default=None, alias="end")
    mtbf_s: PositiveSeconds | None = Field(default=None, alias="mtbf")
    mttr_s: PositiveSeconds | None = Field(default=None, alias="mttr")

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = cls._by_alias(data)
        scheduled = [key for key in ("start", "end", "duration") if key in data]
        random = [key for key in ("mtbf", "mttr") if key in data]
        forms = "either start with duration or end, or mtbf and mttr"
        if scheduled and random:
            _raise([((random[0],), f"an outage takes {forms}, not both kinds")], data)
        if not scheduled and not random:
            _raise([((), f"an outage needs {forms}")], data)
        if random:
            missing = [key for key in ("mtbf", "mttr") if key not in data]
            if missing:
                _raise(
                    [((missing[0],), f"a random outage needs both mtbf and mttr ({missing[0]} is missing)")],
                    data,
                )
            return data
        issues: list[tuple[Loc, str]] = []
        if "start" not in data:
            issues.append((("start",), "a scheduled outage needs start"))
        if ("end" in data) == ("duration" in data):
            key = "duration" if "duration" in data else "end"
            issues.append(((key,), "a scheduled outage needs exactly one of end and duration"))
        if issues:
            _raise(issues, data)
        if "duration" not in data:
            return data
        converted = {key: value for key, value in data.items() if key != "duration"}
        try:
            start_s = parse_duration(data["start"])
        except ValueError:
            return converted | {"end": None}  # start's own validation reports it
        try:
            converted["end"] = scenario_duration(start_s + scenario_duration(data["duration"]))
        except ValueError as error:
            _raise([(("duration",), str(error))], data)
        return converted

    @model_validator(mode="after")
    def _check_order(self) -> OutageSpec:
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            _raise([(("end",), f"end ({self.end_s} s) is before start ({self.start_s} s)")], self)
        return self

    @property
    def kind(self) -> Literal["server", "link"]:
        return "link" if "--" in self.target else "server"

    @property
    def ends(self) -> tuple[str, str]:
        """The two nodes of a link target (``ValueError`` for a server target)."""
        a, separator, b = self.target.partition("--")
        if not separator:
            raise ValueError(f"outage target {self.target!r} is a server, not a link")
        return a, b

    @property
    def scheduled(self) -> bool:
        return self.mtbf_s is None

    def to_yaml(self) -> dict[str, object]:
        if self.scheduled:
            return {"target": self.target, "start": self.start_s, "end": self.end_s}
        return {"target": self.target, "mtbf": self.mtbf_s, "mttr": self.mttr_s}


def _merge_server(defaults: Mapping[Any, Any], spec: Mapping[Any, Any]) -> tuple[dict[Any, Any], set[tuple[str, ...]]]:
    """Merge ``defaults`` under one server's mapping.

    The server wins key by key; ``retry`` merges key by key too, unless the server's
    retry names a different ``policy`` than the defaults' (then it replaces it whole).
    Also returns the key paths that came from the defaults.
    """
    merged = dict(spec)
    origins: set[tuple[str, ...]] = set()
    for key, value in defaults.items():
        if key not in merged:
            merged[key] = copy.deepcopy(value)
            origins.add((str(key),))
        elif key == "retry" and isinstance(value, Mapping) and isinstance(merged[key], Mapping):
            own = merged[key]
            if "policy" in own and own["policy"] != value.get("policy", "fixed"):
                continue
            retry = dict(own)
            for retry_key, retry_value in value.items():
                if retry_key not in retry:
                    retry[retry_key] = copy.deepcopy(retry_value)
                    origins.add(("retry", str(retry_key)))
            merged[key] = retry
    return merged, origins


def _server_input(name: Any, spec: Any, defaults: Mapping[Any, Any]) -> Any:
    if isinstance(spec, ServerSpec):
        return spec
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        return spec  # reported as "must be a mapping"
    merged, _ = _merge_server(defaults, spec)
    merged["name"] = name
    return merged


class Scenario(_Spec):
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
    outages: tuple[OutageSpec, ...] = ()

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
            _raise([(("defaults",), f"must be a mapping of server keys, got {brief(defaults)}")], defaults)
        servers = data.get("servers")
        if isinstance(servers, Mapping):
            data["servers"] = {name: _server_input(name, spec, defaults or {}) for name, spec in servers.items()}
        return data

    @model_validator(mode="after")
    def _check_and_complete(self) -> Scenario:
        issues = _semantic_issues(self)
        if issues:
            raise _SemanticError(issues)
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
        """The effective scenario as plain data in the file's own key names (SI numbers)."""
        return {
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
            "outages": [outage.to_yaml() for outage in self.outages],
        }

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

    def override(self, changes: Mapping[str, object]) -> Scenario:
        """A new scenario with ``changes`` applied to the file's mapping, re-validated.

        Keys are dotted paths (``"servers.mx.beta.retry.interval": "15m"``,
        ``"network.links.1.bandwidth": "10Mbps"``); each segment matches the
        longest existing key, so names with dots work.  A new entry under
        ``servers`` or ``dns`` takes the whole rest of the path as its name and
        needs a mapping or list value.  Problems raise :class:`ScenarioError`.
        """
        raw = copy.deepcopy(self._raw) if self._raw is not None else self.to_effective_dict()
        problems: list[Problem] = []
        for dotted, value in changes.items():
            try:
                _assign(raw, dotted, copy.deepcopy(value))
            except _OverrideError as error:
                problems.append(Problem(str(dotted), str(error)))
        if problems:
            raise ScenarioError(problems)
        return _build(raw, None, max_messages=self._max_messages)


# --------------------------------------------------------------------------- semantic checks


class _EffectiveDumper(yaml.SafeDumper):
    """Safe YAML output; short lists of plain values in flow style (``between: [a, b]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(item, str | int | float | bool) or item is None for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_EffectiveDumper.add_representer(list, _represent_list)


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


def _semantic_issues(s: Scenario) -> list[tuple[Loc, str]]:
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
        if not users.is_user(message.from_):
            issues.append((("messages", i, "from"), f"'{message.from_}' is not the address of any user"))
        if s.until_s is not None and message.at_s > s.until_s:
            issues.append((("messages", i, "at"), f"{message.at_s!r} s is after until ({s.until_s!r} s): "
                           "the message would never be sent"))
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
    return issues


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


# --------------------------------------------------------------------------- loading


def load_scenario(source: str | os.PathLike[str], *, max_messages: int | None = None) -> Scenario:
    """Load and validate a scenario from a file path or from YAML text.

    A ``str`` that is not an existing path and contains a newline or a ``:`` is
    YAML text; otherwise it is a path.  Raises :class:`ScenarioError`, also for a
    scenario that asks for more than :mod:`simulator.limits` allows: more than
    ``max_messages`` expected (message, recipient) pairs (default 2,000,000).
    """
    limit = DEFAULT_MAX_MESSAGES if max_messages is None else check_max_messages(max_messages)
    if isinstance(source, str) and (
        not source.strip() or (not os.path.exists(source) and ("\n" in source or ":" in source))
    ):
        text = source
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError([Problem("", f"no such scenario file: {path}")]) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ScenarioError([Problem("", f"cannot read scenario file {path}: {error}")]) from None
    raw, lines, problems = _parse_yaml(text)
    return _build(raw, lines, problems, max_messages=limit)


def scenario_from_dict(raw: Mapping[str, Any], *, max_messages: int | None = None) -> Scenario:
    """Validate a scenario given as plain data (as YAML would load it; no line numbers)."""
    limit = DEFAULT_MAX_MESSAGES if max_messages is None else check_max_messages(max_messages)
    return _build(raw, None, max_messages=limit)


def _parse_yaml(text: str) -> tuple[object, dict[tuple[str, ...], int], list[Problem]]:
    """Parse YAML safely; also return the line of every key and list item, and duplicate keys."""
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines: dict[tuple[str, ...], int] = {}
        problems: list[Problem] = []
        _walk(node, (), lines, problems, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = error.problem or error.context or "invalid YAML"
        raise ScenarioError(
            [Problem("", f"YAML syntax error: {what}", None if mark is None else mark.line + 1)]
        ) from None
    except yaml.YAMLError as error:
        raise ScenarioError([Problem("", f"YAML error: {error}")]) from None
    except AliasExpansionError as error:
        raise ScenarioError([Problem(_dotted(error.path), error.message, error.line)]) from None
    except RecursionError:
        raise ScenarioError([Problem("", "the YAML is nested too deeply")]) from None
    finally:
        loader.dispose()
    return data, lines, problems


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _walk(
    node: yaml.Node,
    path: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    problems: list[Problem],
    seen: set[int],
) -> None:
    if id(node) in seen:  # an alias: its lines are those of its anchor
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for mapping in merged:
                    if isinstance(mapping, yaml.MappingNode):
                        for inner_key, _ in mapping.value:
                            if isinstance(inner_key, yaml.ScalarNode):
                                lines.setdefault((*path, inner_key.value), inner_key.start_mark.line + 1)
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(_dotted(path), "keys must be plain names", line))
                continue
            key = key_node.value
            if key in first_line:
                problems.append(
                    Problem(
                        _dotted((*path, key)),
                        f"duplicate key '{key}' (first at line {first_line[key]})",
                        line,
                    )
                )
            else:
                first_line[key] = line
            lines.setdefault((*path, key), line)
            _walk(value_node, (*path, key), lines, problems, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*path, str(index)), item.start_mark.line + 1)
            _walk(item, (*path, str(index)), lines, problems, seen)


def _build(raw: object, lines: Mapping[tuple[str, ...], int] | None, early: Iterable[Problem] = (),
           max_messages: int = DEFAULT_MAX_MESSAGES) -> Scenario:
    """Validate ``raw``: every problem found, with paths and lines, or the Scenario.

    A well-formed scenario is then held to the limits on the work it asks for (estimated
    from its numbers, nothing expanded), with ``max_messages`` as the limit on mail.
    """
    from .workload import workload_issues  # it reads this module's types
    problems = list(early)
    if raw is None:
        raise ScenarioError(
            [*problems, Problem("", "the scenario is empty: it needs name, duration, network and servers")]
        )
    if not isinstance(raw, Mapping):
        raise ScenarioError(
            [
                *problems,
                Problem("", f"the top level must be a mapping of keys (name, duration, ...), got {brief(raw)}", 1),
            ]
        )
    issues = _precheck(raw)
    defaults = raw.get("defaults")
    if isinstance(defaults, Mapping):
        try:
            ServerSpec.model_validate({**defaults, "name": "defaults"})
        except ValidationError as error:
            issues += _validation_issues(error, ("defaults",), raw)
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        issues += _validation_issues(error, (), raw)
    except _SemanticError as error:
        issues += error.issues
    if scenario is not None and not issues and not problems:
        issues = workload_issues(scenario, max_messages)
    problems += _problems(issues, raw, lines)
    if problems or scenario is None:
        raise ScenarioError(problems)
    scenario._raw = copy.deepcopy(dict(raw))
    scenario._max_messages = max_messages
    return scenario


def _precheck(raw: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Keys the models would silently accept because the loader fills them in."""
    issues: list[tuple[Loc, str]] = []
    allowed = ServerSpec.yaml_keys()
    servers = raw.get("servers")
    if isinstance(servers, Mapping):
        for name, spec in servers.items():
            if isinstance(spec, Mapping) and "name" in spec:
                issues.append((("servers", name, "name"), _unknown_key_message("name", allowed)))
    defaults = raw.get("defaults")
    if isinstance(defaults, Mapping) and "name" in defaults:
        issues.append((("defaults", "name"), _unknown_key_message("name", allowed)))
    return issues


def _validation_issues(error: ValidationError, prefix: Loc, raw: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    issues: list[tuple[Loc, str]] = []
    for detail in error.errors(include_url=False):
        loc: Loc = (*prefix, *detail["loc"])
        if _is_injected_name(loc):
            continue  # the name comes from the server's key: the key's own error covers it
        key_error = bool(loc) and loc[-1] == "[key]"
        if key_error:
            loc = loc[:-1]
        message = _message(detail, loc, raw)
        issues.append((loc, f"invalid name: {message}" if key_error else message))
    return issues


def _is_injected_name(loc: Loc) -> bool:
    return (len(loc) == 3 and loc[0] == "servers" and loc[2] == "name") or loc == ("defaults", "name")


def _message(detail: Mapping[str, Any], loc: Loc, raw: Mapping[str, Any]) -> str:
    kind = detail["type"]
    value = detail.get("input")
    context = detail.get("ctx") or {}
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return _unknown_key_message(loc[-1], _keys_at(loc[:-1], raw))
    if kind == "scenario":
        return str(detail["msg"])
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type", "mapping_type"):
        return f"must be a mapping, got {brief(value)}"
    if kind in ("tuple_type", "list_type", "iterable_type", "set_type"):
        return f"must be a list, got {brief(value)}"
    if kind == "too_short":
        return f"needs at least {counted(int(context.get('min_length', 0)), 'item')}"
    if kind == "too_long":
        return f"takes at most {counted(int(context.get('max_length', 0)), 'item')}"
    if kind == "literal_error":
        return f"must be one of {context.get('expected')}, got {brief(value)}"
    message = str(detail["msg"])
    if message.startswith("Input should be "):
        message = "must be " + message[len("Input should be ") :]
    return f"{message}, got {brief(value)}"


def _keys_at(parent: Loc, raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys allowed at ``parent`` (for "did you mean" hints)."""
    model = _model_at(parent, raw)
    return () if model is None else model.yaml_keys()


def _model_at(parent: Loc, raw: Mapping[str, Any]) -> type[_Spec] | None:
    if not parent:
        return Scenario
    head, rest = parent[0], parent[1:]
    if head == "network":
        return {0: Network, 2: LinkSpec}.get(len(rest))
    if head in ("defaults", "servers"):
        server_rest = rest if head == "defaults" else rest[1:]
        if head == "servers" and not rest:
            return None
        return {(): ServerSpec, ("retry",): RetrySpec, ("greylisting",): GreylistSpec}.get(tuple(server_rest))
    if head == "dns":
        return MXRecord if len(rest) == 2 else None
    if head == "users" and rest:
        entries = raw.get("users")
        entry = entries[rest[0]] if isinstance(entries, list) and isinstance(rest[0], int) else None
        is_group = isinstance(entry, Mapping) and "group" in entry
        return {
            (): GroupSpec if is_group else UserSpec,
            ("access",): AccessSpec,
            ("group",): GroupMembers,
        }.get(tuple(rest[1:]))
    if head == "traffic" and rest:
        return {
            (): TrafficSpec,
            ("attachments",): AttachmentSpec,
            ("reply",): ReplySpec,
            ("forward",): ForwardSpec,
            ("file",): FileSpec,
        }.get(tuple(rest[1:]))
    if head == "messages" and len(rest) == 1:
        return ScriptedMessage
    if head == "outages" and len(rest) == 1:
        return OutageSpec
    return None


def _from_defaults(loc: Loc, raw: Mapping[str, Any]) -> Loc:
    """Point a problem in a server at ``defaults`` when the offending key came from there."""
    defaults = raw.get("defaults")
    servers = raw.get("servers")
    if len(loc) < 3 or loc[0] != "servers" or not isinstance(defaults, Mapping) or not isinstance(servers, Mapping):
        return loc
    spec = servers.get(loc[1])
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        return loc
    _, origins = _merge_server(defaults, spec)
    rest = tuple(str(segment) for segment in loc[2:])
    for length in range(len(rest), 0, -1):
        if rest[:length] in origins:
            return ("defaults", *loc[2:])
    return loc


def _line(loc: Loc, lines: Mapping[tuple[str, ...], int]) -> int | None:
    key = tuple(str(segment) for segment in loc)
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return None


def _problems(
    issues: Iterable[tuple[Loc, str]], raw: Mapping[str, Any], lines: Mapping[tuple[str, ...], int] | None
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for loc, message in issues:
        loc = _from_defaults(loc, raw)
        path = _dotted(loc)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(Problem(path, message, None if lines is None else _line(loc, lines)))
    order = {id(problem): n for n, problem in enumerate(problems)}
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, order[id(p)]))


# --------------------------------------------------------------------------- overrides


class _OverrideError(Exception):
    """A dotted override key that does not lead anywhere."""


_NAME_KEYED: frozenset[tuple[str, ...]] = frozenset({("servers",), ("dns",)})


def _match_key(container: Mapping[Any, Any], rest: str) -> tuple[Any, str | None] | None:
    """The longest existing key that ``rest`` starts with (as a whole dotted segment)."""
    best: Any = None
    for key in container:
        text = str(key)
        if (rest == text or rest.startswith(text + ".")) and (best is None or len(text) > len(str(best))):
            best = key
    if best is None:
        return None
    tail = rest[len(str(best)) + 1 :]
    return best, tail or None


def _assign(root: dict[str, Any], dotted: str, value: object) -> None:
    if not isinstance(dotted, str) or not dotted:
        raise _OverrideError("an override key is a non-empty dotted path like servers.mx.retry.interval")
    container: Any = root
    path: tuple[str, ...] = ()
    rest = dotted
    while True:
        if isinstance(container, dict):
            found = _match_key(container, rest)
            if found is not None:
                key, tail = found
            elif path in _NAME_KEYED:
                if not isinstance(value, Mapping | list):
                    raise _OverrideError(
                        f"{_dotted(path)} has no entry matching '{rest}'; "
                        "a new entry needs a whole mapping or list as its value"
                    )
                key, tail = rest, None
            else:
                key, _, after = rest.partition(".")
                tail = after or None
            if tail is None:
                container[key] = value
                return
            if container.get(key) is None:
                container[key] = {}
            container = container[key]
        elif isinstance(container, list):
            segment, _, after = rest.partition(".")
            if not segment.isdigit():
                raise _OverrideError(f"{_dotted(path)} is a list: '{segment}' should be an item number")
            index = int(segment)
            if index >= len(container):
                raise _OverrideError(f"{_dotted(path)} has {counted(len(container), 'item')}; there is no item {index}")
            if not after:
                container[index] = value
                return
            key, tail = index, after
            container = container[index]
        else:
            raise _OverrideError(f"{_dotted(path)} is a single value, not a mapping or list")
        path = (*path, str(key))
        rest = tail


# --------------------------------------------------------------------------- JSON schema


def scenario_json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the scenario file format, for editors."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    definitions = schema["$defs"]
    server = definitions["ServerSpec"]
    server["properties"].pop("name", None)
    required = [key for key in server.get("required", []) if key != "name"]
    if required:
        server["required"] = required
    else:
        server.pop("required", None)
    schema["properties"]["defaults"] = {
        "$ref": "#/$defs/ServerSpec",
        "description": "server keys that apply to every server unless the server sets them",
    }
    definitions["OutageSpec"]["properties"]["duration"] = {
        **_DURATION_SCHEMA,
        "description": "how long a scheduled outage lasts (instead of end); " + _SECONDS_HELP,
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
