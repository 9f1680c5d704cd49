"""FloatColumn reads as the list of floats and None it replaces, and writes the same CSV cells."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.csv_columns import column_cells
from simulator.float_column import READ_VALUES, FloatColumn
from simulator.results import Tables

cells_st = st.lists(st.none() | st.floats(allow_nan=False), max_size=60)


def column_of(cells: list[float | None]) -> FloatColumn:
    values = np.array([0.0 if c is None else c for c in cells], dtype=np.float64)
    return FloatColumn(values, [c is not None for c in cells])


@given(cells_st)
def test_reads_as_the_list(cells: list[float | None]) -> None:
    column = column_of(cells)
    assert len(column) == len(cells)
    assert column.tolist() == cells
    assert list(column) == cells
    assert column == cells and cells == column
    assert [column[i] for i in range(len(cells))] == cells
    assert column[2:7].tolist() == cells[2:7]
    # the text of every cell, -0.0 and the shortest exact text included
    assert [math.copysign(1, c) for c in column.tolist() if c is not None] == \
        [math.copysign(1, c) for c in cells if c is not None]


@given(cells_st)
def test_csv_cells_are_the_lists(cells: list[float | None]) -> None:
    assert column_cells(column_of(cells)) == column_cells(cells)


def test_array_has_nan_in_empty_cells_and_never_aliases_when_copied() -> None:
    column = FloatColumn(np.array([1.5, 7.0, -0.0]), np.array([True, False, True]))
    got = np.array(column, dtype=np.float64)
    assert got[0] == 1.5 and math.isnan(got[1]) and math.copysign(1, got[2]) == -1
    full = FloatColumn(np.array([1.0, 2.0]))
    assert full.known is None  # every cell has a value: no marks kept
    copied = np.array(full)
    copied[0] = 99.0
    assert full[0] == 1.0


def test_differs_where_a_value_or_an_empty_cell_differs() -> None:
    column = FloatColumn(np.array([1.0, 2.0]), np.array([True, False]))
    assert column != [1.0, 2.0]
    assert column != [1.0, None, 3.0]
    assert column != [2.0, None]
    assert column == [1.0, None]
    assert column != "ab"


def test_marks_must_fit_the_values() -> None:
    with pytest.raises(ValueError, match="2 marks for 3 values"):
        FloatColumn(np.zeros(3), np.ones(2, dtype=bool))


def test_iterates_past_one_part() -> None:
    n = READ_VALUES * 2 + 5
    known = np.arange(n) % 3 != 0
    column = FloatColumn(np.arange(n, dtype=np.float64), known)
    assert list(column) == [float(i) if i % 3 else None for i in range(n)]


def test_tables_of_columns_equal_the_tables_of_lists() -> None:
    times = FloatColumn(np.array([0.0, 4.25]))
    listed = Tables({"queues": {"time": [0.0, 4.25], "server": ["a", "a"], "queue_length": [0, 1]}})
    typed = Tables({"queues": {"time": times, "server": ["a", "a"], "queue_length": [0, 1]}})
    assert typed == listed
    assert typed.queues == [{"time": 0.0, "server": "a", "queue_length": 0},
                            {"time": 4.25, "server": "a", "queue_length": 1}]
    other = Tables({"queues": {"time": [0.0, 4.5], "server": ["a", "a"], "queue_length": [0, 1]}})
    assert typed != other


def test_dataframes_made_from_columns_equal_those_made_from_rows() -> None:
    pandas = pytest.importorskip("pandas")
    from pathlib import Path

    from simulator import load_scenario, run
    from simulator.results import DELIVERY_COLUMNS, QUEUE_COLUMNS, RETRIEVAL_COLUMNS

    result = run(load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "outage-retry.yaml"))
    tables = result.tables
    for frame, rows, columns in ((result.deliveries, tables.deliveries, DELIVERY_COLUMNS),
                                 (result.retrievals, tables.retrievals, RETRIEVAL_COLUMNS),
                                 (result.queues, tables.queues, QUEUE_COLUMNS)):
        expected = pandas.DataFrame.from_records(rows, columns=list(columns))
        expected = expected.astype({c: str(t) for c, t in frame.dtypes.items()})
        pandas.testing.assert_frame_equal(frame, expected, check_exact=True)
    empty = sum(r["delivered_at"] is None for r in tables.deliveries)
    assert result.deliveries["delivered_at"].isna().sum() == empty > 0


def test_a_column_of_cells_keeps_its_values_and_its_empty_cells() -> None:
    column = FloatColumn.of([1.5, None, -0.0, 3.0])
    assert column.tolist() == [1.5, None, -0.0, 3.0] and column.known.tolist() == [True, False, True, True]
    assert FloatColumn.of(column) is column
    assert FloatColumn.of([2.0, 4.0]).known is None  # nothing empty: no marks kept
