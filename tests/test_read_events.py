"""events.csv read back: the records of the run, each repeated detail parsed once and shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import load_scenario, run
from simulator.table_files import read_events

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple]]:  # type: ignore[type-arg]
    result = run(load_scenario(SCENARIOS / "outage-retry.yaml"))
    out = tmp_path_factory.mktemp("result") / "r"
    result.save(out, with_plots=False)
    return out, list(result.records)


def test_the_records_read_back_are_the_runs(folder: tuple[Path, list[tuple]]) -> None:  # type: ignore[type-arg]
    path, records = folder
    read = read_events(path / "events.csv")
    assert repr(read) == repr(records)  # values, types and order


def test_records_with_the_same_detail_share_their_values_and_strings(
        folder: tuple[Path, list[tuple]]) -> None:  # type: ignore[type-arg]
    read = read_events(folder[0] / "events.csv")
    with_fields = [r for r in read if r[4]]  # (the kinds without fields all have the one empty tuple)
    details = {(r[1], r[4]) for r in with_fields}
    assert len(details) < len(with_fields)  # details repeat ...
    assert len({id(r[4]) for r in with_fields}) == len(details)  # ... and each is one tuple
    for field in (1, 2, 3):  # kind, message id, node
        assert len({id(r[field]) for r in read}) == len({r[field] for r in read})


def test_a_bad_detail_is_named_by_its_line_even_when_repeated(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("time,event,message_id,node,detail\n"
                    "1.0,enqueued,m1,a,queue=1\n"
                    "2.0,enqueued,m1,a,queue=1\n"
                    "3.0,enqueued,m1,a,colour=blue\n")
    with pytest.raises(ValueError, match=r"events.csv:4: not an event record"):
        read_events(path)
    path.write_text("time,event,message_id,node,detail\n1.0,enqueued,m1,a,queue=1\nsoon,enqueued,m1,a,queue=1\n")
    with pytest.raises(ValueError, match=r"events.csv:3: not an event record"):
        read_events(path)
