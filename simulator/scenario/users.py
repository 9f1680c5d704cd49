"""The users part of a scenario: single users and groups of alike users (``users``),
and how their devices read mail (``access``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import Field, PlainValidator, StrictBool, StrictInt, WithJsonSchema, WrapValidator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..brief import brief
from ..limits import scenario_duration
from .base import Spec
from .errors import Loc, raise_at
from .fields import DURATION_SCHEMA, SECONDS_HELP, Address, DomainName, GroupPrefix, NodeName, PositiveSeconds

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
            raise_at(issues, value)
        if not offsets:
            raise ValueError("a list of offsets needs one duration per device")
        return tuple(offsets)
    return scenario_duration(value)


Offsets = Annotated[
    float | tuple[float, ...],
    PlainValidator(_offsets),
    WithJsonSchema(
        {
            "anyOf": [DURATION_SCHEMA, {"type": "array", "items": DURATION_SCHEMA, "minItems": 1}],
            "description": "the first poll time: " + SECONDS_HELP + "; or a list of them, one per device",
        }
    ),
]


class AccessSpec(Spec):
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
            raise_at(
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
            raise_at([(("offset",), f"a list of offsets has one per device: {len(self.offset_s)} given for "
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


class UserSpec(Spec):
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


class GroupMembers(Spec):
    """The ``group:`` mapping: ``count`` users ``<prefix><number>@<domain>``."""

    prefix: GroupPrefix
    count: StrictInt = Field(ge=1)
    domain: DomainName


class GroupSpec(Spec):
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
            raise_at([(("address",), "a user entry has address (one user) or group (many users), not both")], value)
        if "group" in value:
            return GroupSpec.model_validate(value)
        return UserSpec.model_validate(value)
    raise ValueError(f"a user entry is a mapping, {{address, at, access}} or {{group, at, access}}, got {brief(value)}")


UserEntry = Annotated[UserSpec | GroupSpec, WrapValidator(_user_entry)]
