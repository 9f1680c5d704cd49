"""The JSON Schema constrains durations, sizes, bandwidths and rates with patterns made from
units.py's unit tables, so an editor flags ``10 parsecs``; the patterns accept exactly the
strings the parsers accept.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.scenario import scenario_json_schema
from simulator.units import (
    BANDWIDTH_PATTERN,
    BANDWIDTH_UNITS_BPS,
    DURATION_PATTERN,
    DURATION_UNITS_S,
    RATE_PATTERN,
    RATE_UNITS_S,
    SIZE_PATTERN,
    SIZE_UNITS_BYTES,
    parse_bandwidth,
    parse_duration,
    parse_rate,
    parse_size,
)

jsonschema = pytest.importorskip("jsonschema")

SCENARIO: dict[str, Any] = {
    "name": "schema",
    "duration": "1d",
    "network": {"links": [{"between": ["lan.a", "mx.a"], "latency": "1ms", "bandwidth": "100Mbps"}]},
    "servers": {"mx.a": {"domains": ["a.example"], "max_message_size": "25MB",
                         "retry": {"policy": "fixed", "interval": "30m", "warn_after": "off"}}},
    "users": [{"address": "a@a.example", "at": "lan.a",
               "access": {"protocol": "pop3", "devices": 2, "offset": ["0s", "5m"]}},
              {"address": "b@a.example", "at": "lan.a", "access": {"protocol": "http", "offset": "1m"}}],
    "traffic": [{"from": "a.example", "to": "a.example", "rate": "5/h",
                 "size": {"lognormal": {"median": "10KB", "sigma": 1.5}},
                 "reply": {"probability": 0.1, "think": {"exponential": {"mean": "10m"}}}}],
    "messages": [{"at": "1h30m", "from": "a@a.example", "to": "b@a.example", "size": "2MiB"}],
    "outages": [{"target": "mx.a", "start": "2h", "duration": "30m"}],
}


def with_value(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    data = copy.deepcopy(SCENARIO)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def errors(data: dict[str, Any]) -> list[Any]:
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    return list(validator.iter_errors(data))


def test_the_schema_accepts_the_good_scenario() -> None:
    assert errors(SCENARIO) == []


PLACES: dict[str, tuple[str | int, ...]] = {
    "duration": ("duration",),
    "latency": ("network", "links", 0, "latency"),
    "interval": ("servers", "mx.a", "retry", "interval"),
    "warn_after": ("servers", "mx.a", "retry", "warn_after"),
    "offset": ("users", 1, "access", "offset"),
    "offset item": ("users", 0, "access", "offset", 1),
    "think": ("traffic", 0, "reply", "think", "exponential", "mean"),
    "outage duration": ("outages", 0, "duration"),
    "scripted at": ("messages", 0, "at"),
    "max_message_size": ("servers", "mx.a", "max_message_size"),
    "traffic size": ("traffic", 0, "size", "lognormal", "median"),
    "scripted size": ("messages", 0, "size"),
    "bandwidth": ("network", "links", 0, "bandwidth"),
    "rate": ("traffic", 0, "rate"),
}
GOOD = {
    "duration": ["30m", "1d2h", "250 ms", "1.5h", "2m30s500ms", 90, "90", " 10s "],
    "size": ["512B", "75 KB", "10KiB", "1.5GB", 1000, "1000"],
    "bandwidth": ["56kbps", "100 Mbps", "1Gbps", 9600, "9600"],
    "rate": ["40/d", "5 / h", "0.5/m", 2, "2"],
}
BAD = {
    "duration": ["10 parsecs", "30 minutes", "1h1h", "1m1h", "-5m", "", "5", "m", "1,5s"],
    "size": ["10 parsecs", "10kb", "10 mb", "-1KB", "KB", ""],
    "bandwidth": ["10 parsecs", "100 Mbit", "100mbps", "-1Gbps", ""],
    "rate": ["10 parsecs", "5 per hour", "5/hour", "5/H", "-1/s", ""],
}
KIND = {"duration": "duration", "latency": "duration", "interval": "duration", "warn_after": "duration",
        "offset": "duration", "offset item": "duration", "think": "duration", "outage duration": "duration",
        "scripted at": "duration", "max_message_size": "size", "traffic size": "size", "scripted size": "size",
        "bandwidth": "bandwidth", "rate": "rate"}


@pytest.mark.parametrize("place", PLACES)
def test_good_quantities_pass_and_bad_ones_are_flagged(place: str) -> None:
    kind = KIND[place]
    for value in GOOD[kind]:
        if value == "5" and place == "interval":
            continue
        assert errors(with_value(PLACES[place], value)) == [], (place, value)
    for value in BAD[kind]:
        if kind == "duration" and value == "5":
            continue  # "5" is 5 seconds: good
        assert errors(with_value(PLACES[place], value)), (place, value)


def test_off_words_and_lists_of_offsets() -> None:
    for word in ("off", "Never", " none ", None, False):
        assert errors(with_value(PLACES["warn_after"], word)) == [], word
    assert errors(with_value(PLACES["warn_after"], "sometimes"))
    assert errors(with_value(("users", 0, "access", "offset"), [])), "an empty list of offsets"
    assert errors(with_value(("users", 0, "access", "offset"), ["0s", "5 parsecs"]))


# ---- the patterns accept exactly what the parsers accept ------------------------------------------

NUMBERS = st.sampled_from(["0", "12", "1.5", ".5", "2.", "1e3", "2E-1", "1..2", "e3", "", "-3", "+4", "Ⅻ", "٣"])
SPACES = st.sampled_from(["", " ", "  "])
WRONG_UNITS = ["parsecs", "kb", "mb", "min", "S", "Mbit", "per hour", "/x", "/ H", "x"]


def strings(units: list[str]) -> st.SearchStrategy[str]:
    piece = st.tuples(NUMBERS, SPACES, st.sampled_from(units + WRONG_UNITS + [""]), SPACES).map("".join)
    return st.tuples(SPACES, st.lists(piece, min_size=1, max_size=3).map("".join)).map("".join)


def accepts(parse: Callable[[object], object], text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


CASES = [
    (DURATION_PATTERN, parse_duration, list(DURATION_UNITS_S)),
    (SIZE_PATTERN, parse_size, list(SIZE_UNITS_BYTES)),
    (BANDWIDTH_PATTERN, parse_bandwidth, list(BANDWIDTH_UNITS_BPS)),
    (RATE_PATTERN, parse_rate, [f"/{unit}" for unit in RATE_UNITS_S] + [f" / {unit}" for unit in RATE_UNITS_S]),
]


@pytest.mark.parametrize(("pattern", "parse", "units"), CASES, ids=["duration", "size", "bandwidth", "rate"])
def test_each_pattern_matches_exactly_the_strings_its_parser_accepts(pattern: str, parse: Callable[[object], object],
                                                                      units: list[str]) -> None:
    @given(strings(units))
    def agree(text: str) -> None:
        assert (re.search(pattern, text) is not None) == accepts(parse, text), text

    agree()


def test_the_patterns_follow_the_unit_tables() -> None:
    """A unit is in the pattern because it is in the table: each table unit matches, lower-case slips do not."""
    for unit in SIZE_UNITS_BYTES:
        assert re.search(SIZE_PATTERN, f"3{unit}")
    for unit in BANDWIDTH_UNITS_BPS:
        assert re.search(BANDWIDTH_PATTERN, f"3 {unit}")
    for unit in DURATION_UNITS_S:
        assert re.search(DURATION_PATTERN, f"3{unit}")
    assert not re.search(SIZE_PATTERN, "3mib") and not re.search(BANDWIDTH_PATTERN, "3gbps")
