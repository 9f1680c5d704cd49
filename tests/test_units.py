"""Tests for simulator.units: the unit grammar of SCENARIO.md ("Units in YAML")."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.units import (
    format_duration,
    parse_bandwidth,
    parse_duration,
    parse_rate,
    parse_size,
)

# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30.0),
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("5d", 432000.0),
        ("1d2h", 93600.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s5ms", 93784.005),
        ("1h 30m", 5400.0),
        ("1.5h", 5400.0),
        ("0.1s", 0.1),
        ("0s", 0.0),
        (" 7s ", 7.0),
        (12, 12.0),
        (0.5, 0.5),
        ("12", 12.0),
        ("12.5", 12.5),
        ("1e3", 1000.0),
        ("+3", 3.0),
    ],
)
def test_parse_duration_examples(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad",
    ["30x", "abc", "", "m", "1mm", "30 minutes", "1m1h", "1h1h", "h1", "1d-2h", "1,5s", "inf", "5 1d", "1 0s", "2. 5h"],
)
def test_parse_duration_rejects_unparseable_with_the_accepted_forms(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration") as info:
        parse_duration(bad)
    assert "30m" in str(info.value) or "largest first" in str(info.value)


def test_parse_duration_error_message_names_the_forms() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("30x")
    assert str(info.value) == (
        '"30x" is not a duration: use forms like 250ms, 30s, 30m, 2h, 5d, 1d2h or a number of seconds'
    )


@pytest.mark.parametrize("bad", [-1, -0.5, "-5", "-5m", True, False, None, [1], {"s": 1}, math.nan, math.inf])
def test_parse_duration_rejects_negative_bool_and_non_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5400, "1h30m"), (0, "0s"), (0.25, "250ms"), (93600, "1d2h"), (86400, "1d"), (61.5, "1m1s500ms"), (59, "59s")],
)
def test_format_duration_examples(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_finer_than_a_millisecond_is_exact_seconds() -> None:
    assert format_duration(0.0001) == "0.0001s"
    assert parse_duration(format_duration(1 / 3)) == 1 / 3


@pytest.mark.parametrize("bad", [-1, math.inf, math.nan, True, "5"])
def test_format_duration_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ValueError):
        format_duration(bad)  # type: ignore[arg-type]


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_format_then_parse_duration_round_trips_any_float(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=0, max_value=10**13))
def test_format_then_parse_duration_round_trips_whole_milliseconds(ms: int) -> None:
    seconds = ms / 1000
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert text.rstrip("0123456789")[-1:] in ("d", "h", "m", "s")


@given(
    st.integers(0, 400),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999),
)
def test_compound_durations_add_up_exactly(days: int, hours: int, minutes: int, secs: int, ms: int) -> None:
    text = f"{days}d{hours}h{minutes}m{secs}s{ms}ms"
    total_ms = (((days * 24 + hours) * 60 + minutes) * 60 + secs) * 1000 + ms
    assert parse_duration(text) == total_ms / 1000


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_parse_duration_is_monotonic(a: int, b: int, unit: str) -> None:
    low, high = sorted((a, b))
    assert parse_duration(f"{low}{unit}") <= parse_duration(f"{high}{unit}")


@given(st.integers(0, 10**6))
def test_duration_units_scale_in_order(n: int) -> None:
    assert parse_duration(f"{n}ms") <= parse_duration(f"{n}s") <= parse_duration(f"{n}m")
    assert parse_duration(f"{n}m") <= parse_duration(f"{n}h") <= parse_duration(f"{n}d")
    assert parse_duration(f"{n}d") == n * 86400


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "size_bytes"),
    [
        ("512B", 512),
        ("75KB", 75_000),
        ("75kB", 75_000),
        ("10KiB", 10_240),
        ("25MB", 25_000_000),
        ("2MiB", 2_097_152),
        ("1GB", 1_000_000_000),
        ("1GiB", 1_073_741_824),
        ("1TB", 10**12),
        ("1.5KB", 1500),
        ("0.5KiB", 512),
        ("10 KB", 10_000),
        (1000, 1000),
        (1.5, 2),
        (2.5, 3),
        (0.4, 0),
        ("1.5B", 2),
        ("300", 300),
    ],
)
def test_parse_size_examples(text: object, size_bytes: int) -> None:
    result = parse_size(text)
    assert result == size_bytes
    assert type(result) is int


@pytest.mark.parametrize("bad", ["10XB", "10kb", "ten KB", "KB", "", "10 K B", -1, "-1KB", True, None, math.inf])
def test_parse_size_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(bad)


def test_parse_size_error_names_the_forms() -> None:
    with pytest.raises(ValueError, match=r"512B, 75KB, 10KiB, 25MB, 2MiB, 1GB"):
        parse_size("10XB")


@given(st.integers(0, 10**6), st.sampled_from(["B", "KB", "KiB", "MB", "MiB", "GB", "GiB"]))
def test_size_units_multiply_exactly(n: int, unit: str) -> None:
    factor = {"B": 1, "KB": 1000, "KiB": 1024, "MB": 10**6, "MiB": 2**20, "GB": 10**9, "GiB": 2**30}[unit]
    assert parse_size(f"{n}{unit}") == n * factor


@given(
    st.floats(0, 1e9, allow_nan=False, allow_infinity=False),
    st.floats(0, 1e9, allow_nan=False, allow_infinity=False),
)
def test_parse_size_is_monotonic_and_rounds_to_nearest(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert parse_size(low) <= parse_size(high)
    assert abs(parse_size(a) - a) <= 0.5


# --------------------------------------------------------------------------- bandwidth


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("56kbps", 56_000.0),
        ("56Kbps", 56_000.0),
        ("100Mbps", 1e8),
        ("1Gbps", 1e9),
        ("9600bps", 9600.0),
        ("2.5Gbps", 2.5e9),
        (1e6, 1e6),
        ("1000", 1000.0),
    ],
)
def test_parse_bandwidth_examples(text: object, bps: float) -> None:
    assert parse_bandwidth(text) == bps


@pytest.mark.parametrize("bad", ["100MB", "fast", "1 Gb", "-1Mbps", -5, False, None])
def test_parse_bandwidth_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a bandwidth"):
        parse_bandwidth(bad)


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_parse_bandwidth_is_monotonic(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert parse_bandwidth(f"{low}Mbps") <= parse_bandwidth(f"{high}Mbps")
    assert parse_bandwidth(f"{a}kbps") * 1000 == parse_bandwidth(f"{a}Mbps")


# --------------------------------------------------------------------------- rates


@pytest.mark.parametrize(
    ("text", "per_s"),
    [
        ("40/d", 40 / 86400),
        ("5/h", 5 / 3600),
        ("0.5/m", 0.5 / 60),
        ("2/s", 2.0),
        ("2 / s", 2.0),
        (3, 3.0),
        ("0.25", 0.25),
    ],
)
def test_parse_rate_examples(text: object, per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(per_s, rel=1e-15)


@pytest.mark.parametrize("bad", ["40/w", "40/ms", "40 per day", "/d", "40/", "-1/s", True, None])
def test_parse_rate_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a rate"):
        parse_rate(bad)


@given(st.integers(0, 10**6), st.sampled_from([("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]))
def test_rate_times_its_period_gives_the_count(n: int, unit: tuple[str, int]) -> None:
    name, seconds = unit
    assert parse_rate(f"{n}/{name}") * seconds == pytest.approx(n, rel=1e-12)
