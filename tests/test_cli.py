"""The command line: result files, validate, schema, --seed, and bad input (exit 2, no traceback,
the message names the key path). Two true end-to-end runs go through ``python -m simulator``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator import load_scenario, quick_exit
from simulator.cli import main
from simulator.resultdir import verify

REPO = Path(__file__).resolve().parents[1]
RESULT_FILES = ("deliveries.csv", "events.csv", "queues.csv", "summary.json", "scenario.yaml", "links.csv",
                "servers.csv")

GOOD: dict[str, Any] = {
    "name": "cli",
    "seed": 4,
    "duration": "2h",
    "network": {"links": [
        {"between": ["office.alpha", "mx.alpha"], "latency": "1ms", "bandwidth": "100Mbps"},
        {"between": ["mx.alpha", "core"], "latency": "20ms", "bandwidth": "10Mbps"},
        {"between": ["core", "mx.beta"], "latency": "30ms", "bandwidth": "10Mbps"},
    ]},
    "servers": {
        "mx.alpha": {"domains": ["alpha.example"]},
        "mx.beta": {"domains": ["beta.example"], "retry": {"policy": "fixed", "interval": "30m"}},
    },
    "defaults": {"connect_timeout": "30s"},
    "users": [
        {"address": "alice@alpha.example", "at": "office.alpha"},
        {"group": {"prefix": "b", "count": 3, "domain": "beta.example"}, "at": "mx.beta"},
    ],
    "traffic": [{"from": "alpha.example", "to": "beta.example", "rate": "6/h",
                 "size": {"lognormal": {"median": "10KB", "sigma": 1.0}}}],
    "messages": [{"at": "5m", "from": "alice@alpha.example", "to": ["b001@beta.example"], "size": "3KB"}],
    "outages": [{"target": "mx.beta", "start": "30m", "duration": "20m"}],
}


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, data: Any, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


# ---- good input ---------------------------------------------------------------------------------


def test_run_writes_every_contract_file_and_effective_scenario_reloads(tmp_path: Path) -> None:
    scenario = write(tmp_path, GOOD)
    out_dir = tmp_path / "out"
    code, out, err = cli("run", str(scenario), "-o", str(out_dir))
    assert code == 0, err
    for name in RESULT_FILES:
        assert (out_dir / name).stat().st_size > 0, name
    pngs = sorted(p.name for p in (out_dir / "plots").glob("*.png"))
    assert len(pngs) >= 2
    assert all((out_dir / "plots" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    summary = json.loads((out_dir / "summary.json").read_text())
    assert (summary["name"], summary["seed"]) == ("cli", 4)
    assert summary["counts"]["submitted"] > 0
    assert str(out_dir) in out and "cli" in out

    effective = load_scenario(out_dir / "scenario.yaml")
    assert effective == load_scenario(scenario)
    code, _, err = cli("run", str(out_dir / "scenario.yaml"), "-o", str(tmp_path / "again"), "-q", "--no-plots")
    assert code == 0, err
    for name in ("deliveries.csv", "events.csv", "queues.csv", "summary.json"):
        assert (tmp_path / "again" / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_validate_ok(tmp_path: Path) -> None:
    code, out, err = cli("validate", str(write(tmp_path, GOOD)))
    assert (code, err) == (0, "")
    assert "valid" in out and "cli" in out


def test_schema_prints_json() -> None:
    code, out, _ = cli("schema")
    assert code == 0
    schema = json.loads(out)
    assert {"name", "duration", "network", "servers"} <= set(schema["properties"])


def test_seed_override_changes_results(tmp_path: Path) -> None:
    scenario = str(write(tmp_path, GOOD))
    for seed in ("4", "5"):
        code, _, err = cli("run", scenario, "-o", str(tmp_path / seed), "-q", "--no-plots", "--seed", seed)
        assert code == 0, err
    code, _, _ = cli("run", scenario, "-o", str(tmp_path / "default"), "-q", "--no-plots")
    assert code == 0
    assert json.loads((tmp_path / "5" / "summary.json").read_text())["seed"] == 5
    events = {k: (tmp_path / k / "events.csv").read_bytes() for k in ("4", "5", "default")}
    assert events["4"] == events["default"]
    assert events["5"] != events["4"]


def test_a_seed_given_on_the_command_line_is_in_the_folders_scenario_so_it_runs_again_the_same(
    tmp_path: Path
) -> None:
    code, _, err = cli("run", str(write(tmp_path, GOOD)), "-o", str(tmp_path / "5"), "-q", "--no-plots", "--seed", "5")
    assert code == 0, err
    saved = tmp_path / "5" / "scenario.yaml"
    assert yaml.safe_load(saved.read_text())["seed"] == 5
    code, _, err = cli("run", str(saved), "-o", str(tmp_path / "again"), "-q", "--no-plots")
    assert code == 0, err
    for name in ("events.csv", "deliveries.csv", "manifest.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "5" / name).read_bytes(), name


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    code, out, err = cli("run", str(write(tmp_path, GOOD)), "-o", str(tmp_path / "o"), "-q", "--no-plots")
    assert (code, out, err) == (0, "", "")
    assert not (tmp_path / "o" / "plots").exists() or not list((tmp_path / "o" / "plots").glob("*.png"))


# ---- bad input ----------------------------------------------------------------------------------


def mutate(path: str, value: Any) -> dict[str, Any]:
    """GOOD with ``value`` set at the dotted ``path`` (list items by index; '+' appends)."""
    data = copy.deepcopy(GOOD)
    *parents, last = _split(path)
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        if last == "+":
            node.append(value)
        else:
            node[int(last)] = value
    else:
        node[last] = value
    return data


def _split(path: str) -> list[str]:
    """Dotted path whose server/domain names keep their dots: 'servers.mx.beta.x' -> 3 parts."""
    parts: list[str] = []
    for name in ("mx.alpha", "mx.beta", "mx.gamma", "beta.example", "alpha.example"):
        path = path.replace(name, name.replace(".", "\0"))
    for part in path.split("."):
        parts.append(part.replace("\0", "."))
    return parts


def without(key: str) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    del data[key]
    return data


BAD: list[tuple[str, Any, str]] = [
    # unknown keys at several depths
    ("unknown-top", mutate("colour", "red"), "colour"),
    ("unknown-server-key", mutate("servers.mx.beta.colour", 1), "servers.mx.beta.colour"),
    ("unknown-retry-key", mutate("servers.mx.beta.retry.intervall", "5m"), "servers.mx.beta.retry.intervall"),
    ("unknown-link-key", mutate("network.links.0.speed", "1Gbps"), "network.links.0.speed"),
    ("unknown-defaults-key", mutate("defaults.colour", 1), "colour"),
    ("unknown-user-key", mutate("users.0.colour", 1), "users.0.colour"),
    ("unknown-traffic-key", mutate("traffic.0.colour", 1), "traffic.0.colour"),
    ("unknown-outage-key", mutate("outages.0.colour", 1), "outages.0.colour"),
    ("unknown-access-key", mutate("users.0.access", {"protocol": "imap", "colour": 1}), "users.0.access.colour"),
    # bad units and values
    ("bad-duration-unit", mutate("duration", "5x"), "duration"),
    ("bad-latency-unit", mutate("network.links.0.latency", "5parsecs"), "network.links.0.latency"),
    ("bad-bandwidth", mutate("network.links.1.bandwidth", "fast"), "network.links.1.bandwidth"),
    ("bad-size", mutate("messages.0.size", "12QB"), "messages.0.size"),
    ("bad-rate", mutate("traffic.0.rate", "5 per day"), "traffic.0.rate"),
    ("negative-duration", mutate("duration", "-5m"), "duration"),
    ("negative-latency", mutate("network.links.0.latency", "-1ms"), "network.links.0.latency"),
    ("negative-interval", mutate("servers.mx.beta.retry.interval", "-30m"), "servers.mx.beta.retry.interval"),
    ("zero-concurrency", mutate("servers.mx.alpha.concurrency", 0), "servers.mx.alpha.concurrency"),
    ("bool-not-bool", mutate("servers.mx.beta.pipelining", "maybe"), "servers.mx.beta.pipelining"),
    ("probability>1", mutate("traffic.0.attachments", {"probability": 1.5, "size": "1KB"}),
     "traffic.0.attachments.probability"),
    ("outage-end-before-start", mutate("outages.0", {"target": "mx.beta", "start": "2h", "end": "1h"}),
     "outages.0.end"),
    # names that do not resolve
    ("dns-unknown-host", mutate("dns", {"beta.example": [{"host": "mx.nowhere", "preference": 10}]}),
     "dns.beta.example.0.host"),
    ("unreachable-server", mutate("servers.mx.gamma", {"domains": ["gamma.example"]}), "servers.mx.gamma"),
    ("user-at-unknown-node", mutate("users.0.at", "nowhere"), "users.0.at"),
    ("duplicate-address", mutate("users.+", {"address": "alice@alpha.example", "at": "office.alpha"}),
     "users.2.address"),
    ("undefined-domain-user", mutate("users.+", {"address": "x@nowhere.example", "at": "office.alpha"}),
     "users.2.address"),
    ("undefined-domain-message", mutate("messages.0.to", ["x@nowhere.example"]), "messages.0.to.0"),
    ("traffic-unknown-sender", mutate("traffic.0.from", "nobody@alpha.example"), "traffic.0.from"),
    ("domain-held-twice", mutate("servers.mx.beta.domains", ["alpha.example"]), "servers.mx.beta.domains.0"),
    ("link-to-itself", mutate("network.links.+", {"between": ["core", "core"], "latency": "1ms"}),
     "network.links.3.between"),
    ("bad-distribution", mutate("traffic.0.size", {"gaussian": {"mean": "1KB"}}), "traffic.0.size"),
    ("distribution-missing-param", mutate("traffic.0.size", {"lognormal": {"median": "1KB"}}), "traffic.0.size"),
    ("bad-retry-policy", mutate("servers.mx.beta.retry.policy", "sometimes"), "servers.mx.beta.retry.policy"),
    ("retry-key-of-other-policy", mutate("servers.mx.beta.retry.factor", 2.0), "servers.mx.beta.retry.factor"),
    ("bad-exim-rule", mutate("servers.mx.beta.retry", {"policy": "exim", "rule": "X,1h"}),
     "servers.mx.beta.retry.rule"),
    ("outage-unknown-target", mutate("outages.0.target", "mx.nowhere"), "outages.0.target"),
    ("outage-unknown-link", mutate("outages.0.target", "office.alpha--mx.beta"), "outages.0.target"),
    ("missing-duration", without("duration"), "duration"),
    ("missing-servers", without("servers"), "servers"),
    # files that are not scenarios
    ("malformed-yaml", "name: [unclosed\nduration: 1h\n", "YAML"),
    ("python-tag", yaml.safe_dump(GOOD) + "extra: !!python/object:os.system {}\n", "python/object"),
    ("empty-file", "", "empty"),
    ("top-level-list", "- 1\n- 2\n", "mapping"),
    ("duplicate-key", yaml.safe_dump(GOOD, sort_keys=False) + "duration: 3h\n", "duplicate key"),
]


NO_LINE = {"missing-duration", "missing-servers", "empty-file"}  # nothing in the file to point at


@pytest.mark.parametrize(("ident", "content", "named"), BAD, ids=[i for i, _, _ in BAD])
def test_bad_scenario_exits_2_naming_the_key(tmp_path: Path, ident: str, content: Any, named: str) -> None:
    code, out, err = cli("validate", str(write(tmp_path, content)))
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert named in err, err
    if ident not in NO_LINE:
        assert "(line " in err, err


RUN_BAD = ("unknown-retry-key", "unreachable-server", "outage-unknown-target", "python-tag", "empty-file")


@pytest.mark.parametrize(("content", "named"), [(c, n) for i, c, n in BAD if i in RUN_BAD], ids=RUN_BAD)
def test_run_with_bad_scenario_exits_2_and_writes_nothing(tmp_path: Path, content: Any, named: str) -> None:
    code, out, err = cli("run", str(write(tmp_path, content)), "-o", str(tmp_path / "out"))
    assert code == 2, (out, err)
    assert named in err and "Traceback" not in out + err
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path: Path) -> None:
    code, out, err = cli("validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml" in err and "Traceback" not in out + err


def test_an_empty_output_path_exits_2_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("run", str(write(tmp_path, GOOD)), "-o", "", "-q")
    assert (code, out) == (2, "") and err.startswith("error: --output: an empty path")
    assert not (tmp_path / "results").exists()


def test_directory_instead_of_file(tmp_path: Path) -> None:
    code, out, err = cli("run", str(tmp_path))
    assert code == 2
    assert str(tmp_path) in err and "Traceback" not in out + err


@pytest.mark.parametrize("argv", [
    ["run", "{scenario}", "--seed", "abc"],
    ["run", "{scenario}", "--seed", "1.5"],
    ["run"],
    [],
    ["frobnicate"],
    ["run", "{scenario}", "--no-such-flag"],
])
def test_bad_arguments_exit_2(tmp_path: Path, argv: list[str]) -> None:
    scenario = str(write(tmp_path, GOOD))
    code, out, err = cli(*(a.replace("{scenario}", scenario) for a in argv))
    assert code == 2
    assert "Traceback" not in out + err
    assert err.strip()


def test_negative_seed_is_bad_input(tmp_path: Path) -> None:
    code, out, err = cli("run", str(write(tmp_path, GOOD)), "--seed", "-1", "-o", str(tmp_path / "o"), "-q")
    assert code == 2
    assert "seed" in err and "Traceback" not in out + err


# ---- end to end through the interpreter -------------------------------------------------------------


def python_m(*argv: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "MPLBACKEND": "Agg"}
    env.pop("PYTHONUNBUFFERED", None)  # output to a pipe buffered, as a user's shell has it
    return subprocess.run([sys.executable, "-m", "simulator", *argv], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


def test_end_to_end_runs_identical_across_processes(tmp_path: Path) -> None:
    """Two interpreters with different string-hash seeds write byte-identical files."""
    scenario = str(REPO / "scenarios" / "quickstart.yaml")
    first = python_m("run", scenario, "-o", str(tmp_path / "a"), hash_seed="1")
    second = python_m("run", scenario, "-o", str(tmp_path / "b"), "-q", "--no-plots", hash_seed="2")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "quickstart" in first.stdout and second.stdout == ""
    assert list((tmp_path / "a" / "plots").glob("*.png"))
    for name in RESULT_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_end_to_end_run_ends_at_once_with_every_line_and_file_written(tmp_path: Path) -> None:
    """The console script ends the process without freeing the run object by object (quick_exit):
    the summary written to a pipe is whole, the exit status kept, every file in the manifest."""
    done = python_m("run", str(REPO / "scenarios" / "quickstart.yaml"), "-o", str(tmp_path / "r"), "--no-plots")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f"results in {tmp_path / 'r'}/\n")
    verify(tmp_path / "r")


def test_quick_exit_ends_at_once_only_when_armed_and_holding(monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[tuple[str, int]] = []

    def record(how: str) -> Any:
        def stop(status: int) -> None:
            ended.append((how, status))
            raise SystemExit(status)
        return stop

    monkeypatch.setattr(quick_exit.os, "_exit", record("at once"))
    monkeypatch.setattr(quick_exit.sys, "exit", record("as usual"))
    monkeypatch.setattr(quick_exit, "_held", None)
    quick_exit.hold(object())  # not armed: nothing kept
    with pytest.raises(SystemExit):
        quick_exit.end(0)
    quick_exit.arm()
    with pytest.raises(SystemExit):
        quick_exit.end(2)  # armed, nothing held (mailsim validate)
    quick_exit.hold(object())
    with pytest.raises(SystemExit):
        quick_exit.end(130)
    assert ended == [("as usual", 0), ("as usual", 2), ("at once", 130)]


def test_end_to_end_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path, mutate("servers.mx.beta.retry.intervall", "5m"))
    done = python_m("validate", str(path))
    assert done.returncode == 2
    assert "servers.mx.beta.retry.intervall" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# ---- run --set ----------------------------------------------------------------------------------


def test_run_set_overrides_a_key_for_one_run_and_the_run_id_hashes_the_result(tmp_path: Path) -> None:
    scenario = str(write(tmp_path, GOOD))
    code, _, err = cli("run", scenario, "-o", str(tmp_path / "set"), "-q", "--no-plots",
                       "--set", "traffic.0.rate=20/h", "--set", "traffic.0.size={exponential: {mean: 2KB}}")
    assert code == 0, err
    effective = yaml.safe_load((tmp_path / "set" / "scenario.yaml").read_text())
    assert effective["traffic"][0]["rate"] == pytest.approx(20 / 3600)
    assert effective["traffic"][0]["size"] == {"exponential": {"mean": 2000.0}}
    written = mutate("traffic.0.rate", "20/h")
    written["traffic"][0]["size"] = {"exponential": {"mean": "2KB"}}
    code, _, err = cli("run", str(write(tmp_path, written, "w.yaml")), "-o", str(tmp_path / "w"), "-q", "--no-plots")
    assert code == 0, err
    manifests = [json.loads((tmp_path / k / "manifest.json").read_text())["run_id"] for k in ("set", "w")]
    assert manifests[0] == manifests[1]
    assert (tmp_path / "set" / "events.csv").read_bytes() == (tmp_path / "w" / "events.csv").read_bytes()


@pytest.mark.parametrize(("setting", "words"), [
    ("traffic.0.rate=20/h,30/h", "takes one value, got 2"),
    ("traffic.0.rate=fast", "traffic.0.rate: \"fast\" is not a rate"),
    ("traffic.7.rate=1/h", "there is no item 7"),
    ("traffic.0.rate", "write KEY=VALUE"),
])
def test_run_set_refuses_bad_settings_before_running(tmp_path: Path, setting: str, words: str) -> None:
    code, out, err = cli("run", str(write(tmp_path, GOOD)), "-o", str(tmp_path / "o"), "--set", setting)
    assert code == 2
    assert words in err and "Traceback" not in err and out == ""
    assert not (tmp_path / "o").exists()
