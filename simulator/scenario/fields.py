"""The annotated field types of the scenario models: durations, sizes, bandwidths and
rates with units, names and addresses, and distributions of sizes, durations and
recipients, each with the JSON Schema an editor sees for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictStr,
    WithJsonSchema,
)

from ..limits import scenario_duration, scenario_size
from ..randomness import Choice, Constant, Distribution, DistributionError, parse_distribution
from ..units import (
    BANDWIDTH_PATTERN,
    DURATION_PATTERN,
    RATE_PATTERN,
    SIZE_PATTERN,
    parse_bandwidth,
    parse_rate,
)
from .errors import Loc, raise_at


def _quantity(pattern: str) -> dict[str, Any]:
    """JSON Schema of a quantity: a number in SI units, or a string with units that ``pattern`` matches."""
    return {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": pattern}]}


DURATION_SCHEMA = _quantity(DURATION_PATTERN)
_SIZE_SCHEMA = _quantity(SIZE_PATTERN)


def _quantity_schema(pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema({**_quantity(pattern), "description": description})


SECONDS_HELP = "a duration: 250ms, 30s, 30m (minutes), 2h, 5d, 1d2h, or a number of seconds"
_BYTES_HELP = "a size: 512B, 75KB, 10KiB, 25MB, 2MiB, 1GB, or a number of bytes"
_BPS_HELP = "a bandwidth: 56kbps, 100Mbps, 1Gbps, or a number of bits per second"
_RATE_HELP = "a rate: 40/d, 5/h, 0.5/m, 2/s, or a number of events per second"

Seconds = Annotated[float, BeforeValidator(scenario_duration), _quantity_schema(DURATION_PATTERN, SECONDS_HELP)]
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
                *DURATION_SCHEMA["anyOf"],
                {"type": "string", "pattern": _OFF_PATTERN},
                {"type": "null"},
                {"const": False},
            ],
            "description": SECONDS_HELP + "; off (or null) to disable",
        }
    ),
]


def _plain_name(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if any(character.isspace() for character in value):
        raise ValueError(f"{value!r} must not contain spaces")
    return value


def _name_without(forbidden: str, why: str) -> Callable[[str], str]:
    """A validator of plain names that must not contain ``forbidden``; ``why`` follows the value in its error."""

    def check(value: str) -> str:
        _plain_name(value)
        if forbidden in value:
            raise ValueError(f"{value!r} {why}")
        return value

    return check


def _address(value: str) -> str:
    _plain_name(value)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise ValueError(f"{value!r} is not an address of the form local@domain")
    return value


Name = Annotated[StrictStr, AfterValidator(_plain_name)]
NodeName = Annotated[
    StrictStr, AfterValidator(_name_without("--", "must not contain '--' (it joins the two ends of a link's name)"))
]
DomainName = Annotated[StrictStr, AfterValidator(_name_without("@", "is a domain and must not contain '@'"))]
Address = Annotated[StrictStr, AfterValidator(_address)]
GroupPrefix = Annotated[
    StrictStr, AfterValidator(_name_without("@", "is a prefix of local parts and must not contain '@'"))
]


def _one_or_many(value: object) -> object:
    return (value,) if isinstance(value, str) else value


def _one_or_many_schema(description: str = "") -> WithJsonSchema:
    """A non-empty list of strings that a file may also write as one bare string."""
    schema: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"},
                                                                  "minItems": 1}]}
    if description:
        schema["description"] = description
    return WithJsonSchema(schema)


# Recipients of a message: one address, or a list of them.
Addresses = Annotated[tuple[Address, ...], BeforeValidator(_one_or_many), Field(min_length=1), _one_or_many_schema()]
# Whom a campaign goes to: domains, group prefixes or addresses, one or a list.
Selection = Annotated[tuple[Name, ...], BeforeValidator(_one_or_many), Field(min_length=1),
                      _one_or_many_schema("a domain, a group prefix or an address, or a list of them")]


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
        raise_at([(error.path, error.message)], value)


def _is_count(value: float) -> bool:
    return value >= 1 and float(value).is_integer()


def _recipients_distribution(value: object) -> Distribution:
    try:
        distribution = parse_distribution(value, _parse_count)
    except DistributionError as error:
        raise_at([(error.path, error.message)], value)
    if isinstance(distribution, Constant) and not _is_count(distribution.value):
        raise_at([((), f"recipients must be a whole number >= 1, got {value!r}")], value)
    if isinstance(distribution, Choice):
        bad: list[tuple[Loc, str]] = [
            (("choice", i, 0), f"recipients must be whole numbers >= 1, got {v!r}")
            for i, v in enumerate(distribution.values)
            if not _is_count(v)
        ]
        if bad:
            raise_at(bad, value)
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
        raise_at([(error.path, error.message)], value)


DurationDistribution = Annotated[
    Distribution,
    PlainValidator(_duration_distribution),
    PlainSerializer(_to_yaml),
    WithJsonSchema(
        _distribution_schema(
            DURATION_SCHEMA, "a duration or a distribution of durations; values in seconds or with units (5m)"
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
