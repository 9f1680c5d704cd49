"""Determinism: the same seed gives byte-identical result files; another seed does not; and the
named random streams keep one traffic entry's draws independent of the rest of the scenario.
"""

from __future__ import annotations

import copy
import filecmp
from pathlib import Path
from typing import Any

from conftest import events, rows, run_yaml

from simulator import Result

FILES = ("deliveries.csv", "events.csv", "queues.csv", "summary.json", "retrievals.csv", "scenario.yaml", "links.csv",
         "servers.csv")


def busy_world() -> dict[str, Any]:
    """Random sizes, recipients, attachments, retrieval devices and random outages."""
    return {
        "name": "busy",
        "seed": 11,
        "duration": "3h",
        "network": {"links": [
            {"between": ["lan.alpha", "mx.alpha"], "latency": "1ms", "bandwidth": "100Mbps"},
            {"between": ["mx.alpha", "core"], "latency": "20ms", "bandwidth": "2Mbps"},
            {"between": ["core", "mx.beta"], "latency": "30ms", "bandwidth": "1Mbps"},
            {"between": ["core", "backup.beta"], "latency": "40ms", "bandwidth": "1Mbps"},
            {"between": ["lan.beta", "mx.beta"], "latency": "2ms", "bandwidth": "10Mbps"},
        ]},
        "servers": {
            "mx.alpha": {"domains": ["alpha.example"]},
            "mx.beta": {"domains": ["beta.example"]},
            "backup.beta": {"relay_for": ["beta.example"]},
        },
        "dns": {"beta.example": [{"host": "mx.beta", "preference": 10}, {"host": "backup.beta", "preference": 20}]},
        "defaults": {"retry": {"policy": "fixed", "interval": "10m", "warn_after": "30m"}},
        "users": [
            {"group": {"prefix": "a", "count": 20, "domain": "alpha.example"}, "at": "lan.alpha"},
            {"group": {"prefix": "b", "count": 20, "domain": "beta.example"}, "at": "lan.beta",
             "access": {"protocol": "pop3", "poll": "5m"}},
        ],
        "traffic": [
            {"from": "alpha.example", "to": "beta.example", "rate": "3/h", "recipients": {"choice": [[1, 3], [3, 1]]},
             "size": {"lognormal": {"median": "10KB", "sigma": 1.5}},
             "attachments": {"probability": 0.2, "size": {"lognormal": {"median": "100KB", "sigma": 1.0}}}},
        ],
        "outages": [
            {"target": "mx.beta", "mtbf": "1h", "mttr": "15m"},
            {"target": "core--mx.alpha", "mtbf": "2h", "mttr": "5m"},
        ],
    }


def save(result: Result, folder: Path) -> Path:
    return result.save(folder, with_plots=False)


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = save(run_yaml(busy_world()), tmp_path / "a")
    b = save(run_yaml(busy_world()), tmp_path / "b")
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "events.csv").stat().st_size > 10_000  # a run with something in it


def test_different_seed_gives_different_results(tmp_path: Path) -> None:
    a = save(run_yaml(busy_world()), tmp_path / "a")
    b = save(run_yaml(busy_world(), seed=12), tmp_path / "b")
    for name in ("deliveries.csv", "events.csv", "summary.json"):
        assert not filecmp.cmp(a / name, b / name, shallow=False), name


def test_seed_argument_equals_seed_in_file(tmp_path: Path) -> None:
    other = busy_world()
    other["seed"] = 5
    a = save(run_yaml(busy_world(), seed=5), tmp_path / "a")
    b = save(run_yaml(other), tmp_path / "b")
    for name in ("deliveries.csv", "events.csv", "queues.csv", "summary.json", "links.csv", "servers.csv"):
        assert filecmp.cmp(a / name, b / name, shallow=False), name


def draws(result: Result, senders_domain: str) -> list[tuple[Any, ...]]:
    """What the traffic entry drew, per message: time, sender, recipients, sizes."""
    out = []
    for e in events(result, "created"):
        if e.f["kind"] == "mail" and e.f["from"].endswith("@" + senders_domain):
            out.append((e.time, e.f["from"], e.f["to"], int(e.f["size"]), int(e.f["wire"])))
    return out


def test_unrelated_traffic_and_server_do_not_change_an_entrys_draws() -> None:
    base = busy_world()
    before = draws(run_yaml(base), "alpha.example")
    assert len(before) > 50

    more = copy.deepcopy(base)
    more["network"]["links"].append({"between": ["core", "mx.gamma"], "latency": "10ms", "bandwidth": "1Mbps"})
    more["servers"]["mx.gamma"] = {"domains": ["gamma.example"]}
    more["users"].append({"group": {"prefix": "g", "count": 30, "domain": "gamma.example"}, "at": "mx.gamma"})
    more["traffic"].append({"from": "gamma.example", "to": "beta.example", "rate": "5/h",
                            "size": {"exponential": {"mean": "50KB"}}})
    more["outages"].append({"target": "mx.gamma", "mtbf": "30m", "mttr": "10m"})
    result = run_yaml(more)
    assert draws(result, "gamma.example")  # the new entry does send
    assert draws(result, "alpha.example") == before


def test_random_outage_times_do_not_depend_on_traffic() -> None:
    base = busy_world()
    quiet = copy.deepcopy(base)
    quiet["traffic"][0]["rate"] = "1/h"

    def downs(result: Result, until_s: float) -> list[tuple[float, str]]:
        found = events(result, "server_down") + events(result, "link_down")
        return sorted((e.time, e.node) for e in found if e.time <= until_s)

    a, b = run_yaml(base), run_yaml(quiet)
    until_s = min(a.end_time_s, b.end_time_s)  # the runs end when their own mail is done
    assert len(downs(a, until_s)) > 2
    assert downs(a, until_s) == downs(b, until_s)


def test_results_do_not_depend_on_run_order() -> None:
    """A run in between (another seed) leaves no state behind that changes the next."""
    seed = 3
    first = run_yaml(busy_world(), seed=seed)
    run_yaml(busy_world(), seed=seed + 100)
    again = run_yaml(busy_world(), seed=seed)
    assert first.records == again.records
    assert rows(first) == rows(again)
