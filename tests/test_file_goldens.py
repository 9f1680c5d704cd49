"""Result files pinned to reference files: every table a run writes (deliveries, retrievals,
queues, events, links, servers as CSV, summary.json) and the time breakdown's rows, byte for
byte as the code that wrote ``tests/golden/files/`` made them.

This guards rewrites of the derivation and of the writers: whatever moves inside, the same run
must give the same bytes (the shortest exact text of every float included). Small scenarios are
kept whole (one gzip file per scenario, each file under a ``==> name <==`` line), so a
difference shows its first line; larger ones by each file's sha256. A change that is *meant*
to change the files regenerates them on purpose and says why in its commit:

    MAILSIM_REGENERATE_GOLDEN=1 python -m pytest tests/test_file_goldens.py
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest
from test_equivalence import random_world

from simulator import Result, load_scenario, run
from simulator.breakdown import BREAKDOWN_COLUMNS
from simulator.csv_columns import columns_of, write_csv

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "files"
REGENERATE = os.environ.get("MAILSIM_REGENERATE_GOLDEN") == "1"
FILES = ("deliveries.csv", "retrievals.csv", "queues.csv", "events.csv", "links.csv", "servers.csv", "summary.json",
         "time_breakdown.csv")
WHOLE = ("quickstart", "wire", "backup-mx", "conversations", "greylisting", "mailing-list", "outage-retry")
"""Scenarios whose files are kept whole."""
DIGESTED: dict[str, str | Path] = {"capacity": ROOT / "scenarios" / "capacity.yaml",
                                   "provider-day": ROOT / "scenarios" / "provider-day.yaml",
                                   "random-0": random_world(0)}
"""Larger worlds (workers and refusals, failed submissions, cut sessions and link outages), kept as digests."""


def files_of(source: str | Path, folder: Path) -> dict[str, bytes]:
    """Every pinned file of the run of ``source``, saved into ``folder``, by name."""
    result: Result = run(load_scenario(source))
    result.save(folder, with_plots=False)
    write_csv(folder / "time_breakdown.csv", BREAKDOWN_COLUMNS, columns_of(result.breakdown_rows, BREAKDOWN_COLUMNS))
    return {name: (folder / name).read_bytes() for name in FILES}


def bundle(files: dict[str, bytes]) -> str:
    return "".join(f"==> {name} <==\n{data.decode()}" for name, data in files.items())


def first_difference(got: str, want: str) -> str:
    a, b = got.splitlines(), want.splitlines()
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    section = next((line for line in reversed(a[:i + 1]) if line.startswith("==> ")), "")
    return (f"{len(a)} lines against {len(b)}; first difference at line {i + 1} (in {section}):\n"
            f"  got  {a[i] if i < len(a) else '(end)'}\n  want {b[i] if i < len(b) else '(end)'}")


@pytest.mark.parametrize("name", WHOLE)
def test_whole_files_match_the_reference(name: str, tmp_path: Path) -> None:
    text = bundle(files_of(ROOT / "scenarios" / f"{name}.yaml", tmp_path / "out"))
    path = GOLDEN / f"{name}.txt.gz"
    if REGENERATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    expected = gzip.decompress(path.read_bytes()).decode()
    assert "==> events.csv <==\ntime,event,message_id,node,detail\n0.0," in expected  # a log with records in it
    if text != expected:
        pytest.fail(f"{name}: {first_difference(text, expected)}")


def test_digests_of_larger_worlds_match_the_reference(tmp_path: Path) -> None:
    got = {world: {name: hashlib.sha256(data).hexdigest() for name, data in files_of(source, tmp_path / world).items()}
           for world, source in DIGESTED.items()}
    path = GOLDEN / "digests.json"
    if REGENERATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert sorted(expected) == sorted(DIGESTED)
    changed = [f"{world}/{name}" for world in got for name in FILES if got[world][name] != expected[world][name]]
    assert not changed, f"files differ from the reference: {', '.join(changed)}"
