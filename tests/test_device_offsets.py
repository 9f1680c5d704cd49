"""Per-device poll offsets: ``offset`` is one duration (every device polls at ``offset + k*poll``,
as the contract says) or a list with one duration per device (device ``i`` polls at
``offset[i-1] + k*poll``), so two POP3 devices of one user need not collide on the maildrop lock.
The world and the arithmetic are those of test_retrieval.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from conftest import events, exact, run_yaml
from test_retrieval import RTT_S, got, mails_to, next_tick, offsets, only_time, world, xfer_s

from simulator import load_scenario
from simulator.cli import main


def test_pop3_devices_with_their_own_offsets_never_meet_on_the_lock() -> None:
    """Device 1 polls at 100 + k*600, device 2 at 400 + k*600: each message goes to the next poll."""
    result = run_yaml(world({"protocol": "pop3", "poll": 600, "devices": 2, "offset": [100, "400s"]}, [50, 200]))
    assert offsets(result) == [100.0, 400.0]
    (m1, _, w1), (m2, _, w2) = mails_to(result)
    assert got(result, m1) == {"1": [exact(100 + 6 * RTT_S + xfer_s(w1))]}
    assert got(result, m2) == {"2": [exact(400 + 6 * RTT_S + xfer_s(w2))]}
    assert not events(result, "retrieve_failed")


def test_one_offset_still_means_every_device_polls_at_it() -> None:
    """The contract's meaning, kept: with one offset two POP3 devices meet, and one is locked out."""
    result = run_yaml(world({"protocol": "pop3", "poll": 600, "devices": 2, "offset": 100}, [50]))
    assert offsets(result) == [100.0, 100.0]
    assert [e.f["why"] for e in events(result, "retrieve_failed")] == ["locked"]


def test_imap_noop_devices_poll_at_their_own_offsets() -> None:
    access = {"protocol": "imap", "idle": False, "poll": 60, "devices": 2, "offset": [10, 40]}
    result = run_yaml(world(access, [100]))
    ((mid, delivered, wire),) = mails_to(result)
    for device, offset_s in (("1", 10), ("2", 40)):
        assert only_time(result, mid, device) == exact(next_tick(offset_s, 60, delivered) + 2 * RTT_S + xfer_s(wire))


def test_a_list_of_offsets_round_trips_through_the_effective_scenario() -> None:
    scenario = load_scenario(yaml.safe_dump(world({"protocol": "http", "devices": 3, "offset": ["0s", "1m", 90]}, [])))
    bob = scenario.users[1]
    assert bob.access.offset_s == (0.0, 60.0, 90.0)
    assert [bob.access.device_offset_s(i) for i in (1, 2, 3)] == [0.0, 60.0, 90.0]
    assert "offset: [0.0, 60.0, 90.0]" in scenario.to_effective_yaml()
    assert load_scenario(scenario.to_effective_yaml()) == scenario


def test_a_list_of_the_wrong_length_or_with_a_bad_item_is_an_error_at_its_key(tmp_path: Path) -> None:
    data = world({"protocol": "pop3", "devices": 3, "offset": [0, "5m"]}, [])
    data["users"].append({"address": "carol@alpha.example", "at": "home",
                          "access": {"protocol": "pop3", "devices": 2, "offset": [0, "10 parsecs"]}})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out, err) == 2
    assert "users.1.access.offset: a list of offsets has one per device: 2 given for 3 device(s)" in err.getvalue()
    assert 'users.2.access.offset.1: "10 parsecs" is not a duration' in err.getvalue()
