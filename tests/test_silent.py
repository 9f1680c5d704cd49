"""What does not happen silently: a user's mistake or a fault that would give a wrong or mixed
result without a word is refused with a clear message (exit status 2 from the CLI).

Commands run through ``cli.main`` as a user types them; each test checks the exit status, the
message and the files left behind.
"""

from __future__ import annotations

import io
import signal
from pathlib import Path
from typing import Any

import pytest

from simulator import cli, results

TINY = """
name: {name}
seed: 1
duration: 20m
network:
  links:
    - {{between: [lan.a, mx.a], latency: 1ms}}
    - {{between: [mx.a, mx.b], latency: 20ms, bandwidth: 10Mbps}}
servers:
  mx.a: {{domains: [a.example]}}
  mx.b: {{domains: [b.example]}}
users:
  - {{address: ann@a.example, at: lan.a}}
  - {{address: bob@b.example, at: mx.b}}
traffic: [{{from: a.example, to: b.example, rate: 12/h, size: 5KB}}]
messages: [{{at: 1m, from: ann@a.example, to: [bob@b.example], size: 3KB}}]
"""


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(name="tiny"), encoding="utf-8")
    return path


@pytest.fixture()
def result_folder(scenario: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    code, _, err = cli_run("run", str(scenario), "-o", str(out), "-q", "--no-plots")
    assert code == 0, err
    return out


# ---- Ctrl-C that Python swallows still stops the swap ------------------------------------------------


def test_a_ctrl_c_swallowed_in_a_callback_still_leaves_the_old_folder(
    scenario: Path, result_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C arriving inside a weakref callback or __del__ (matplotlib runs many while drawing) is
    printed as 'Exception ignored' and dropped by Python; the run must still not swap in."""
    before = files_of(result_folder)
    other = tmp_path / "other.yaml"
    other.write_text(TINY.format(name="other"), encoding="utf-8")
    real_write_json = results.write_json
    swallowed = []

    def write_json_interrupted(path: Path, data: dict[str, Any]) -> None:
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        try:
            handler(signal.SIGINT, None)  # what a Ctrl-C does; the KeyboardInterrupt is then lost
        except KeyboardInterrupt:
            swallowed.append(path)
        real_write_json(path, data)

    monkeypatch.setattr(results, "write_json", write_json_interrupted)
    code, _, err = cli_run("run", str(other), "-o", str(result_folder), "-q", "--no-plots")
    assert swallowed and code == 130 and "interrupted" in err
    assert files_of(result_folder) == before
    assert [p.name for p in tmp_path.iterdir() if ".mailsim-" in p.name] == []


def test_without_ctrl_c_the_handler_is_put_back(scenario: Path, tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT)
    assert cli_run("run", str(scenario), "-o", str(tmp_path / "out"), "-q", "--no-plots")[0] == 0
    assert signal.getsignal(signal.SIGINT) is before
