"""``benchmarks/parquet_writers.py`` (pyarrow against polars for the Parquet files) runs at a small
size and reports pyarrow's row; with polars installed, polars writes the same deliveries values."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import parquet_writers  # noqa: E402


def test_the_comparison_runs_and_reports_each_library_installed(capsys: pytest.CaptureFixture[str]) -> None:
    assert parquet_writers.main(["--messages", "300", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["library"])
    libraries = [line.split()[0] for line in lines[header + 1:]]
    try:
        import polars  # noqa: F401
    except ImportError:
        assert libraries == ["pyarrow"] and "polars is not installed" in out
    else:
        assert libraries == ["pyarrow", "polars"]
        assert "read back equal to pyarrow's: True" in out


def test_a_library_load_is_measured_in_a_fresh_interpreter() -> None:
    big = b"\x01" * (200 * 1024 * 1024)  # resident: this process is larger than the child will be
    seconds, kib = parquet_writers.load_cost("pyarrow")
    del big
    assert 0 < seconds < 10 and 10 * 1024 < kib < 500 * 1024  # not hidden by the parent's peak
