"""Startup loads only what the command uses: ``mailsim validate``, ``schema`` and ``--help`` load
neither matplotlib nor pandas nor pyarrow nor the simulation core (simpy, networkx); ``--help``,
``--version`` and every subcommand's ``--help`` load not even the scenario model (pydantic, numpy,
yaml); ``run`` loads the core once it simulates and matplotlib once it draws, and pyarrow only to
write Parquet. Each command runs as
a user types it (``python -m simulator ...``) with ``-X importtime``, whose report on stderr
names every module the process imported.
"""

from __future__ import annotations

import importlib.abc
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "quickstart.yaml"
HEAVY = ("matplotlib", "pandas", "networkx", "simpy", "pyarrow")
SCENARIO_MODEL = ("pydantic", "numpy", "yaml")


def imported(*args: str, cwd: Path = REPO) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m simulator ARGS``; its result and the top-level packages it imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "simulator", *args],
                          capture_output=True, text=True, cwd=cwd, check=False)
    modules = {line.split("|")[-1].strip().split(".")[0]
               for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line}
    modules.discard("imported package")  # the header line
    return done, modules


@pytest.mark.parametrize("args", [("validate", str(SCENARIO)), ("schema",)], ids=["validate", "schema"])
def test_light_commands_import_nothing_heavy(args: tuple[str, ...]) -> None:
    done, modules = imported(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout  # the command did its work: a verdict, the schema
    assert "simulator" in modules and "pydantic" in modules  # the report lists what was imported
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("run", "--help"), ("validate", "--help"),
                                  ("sweep", "--help"), ("plot", "--help"), ("show", "--help"),
                                  ("trace", "--help")],
                         ids=lambda args: " ".join(args))
def test_help_and_version_load_not_even_the_scenario_model(args: tuple[str, ...]) -> None:
    done, modules = imported(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mailsim" in done.stdout
    assert {"simulator", "argparse"} <= modules  # the report lists what was imported
    loaded = modules & set(HEAVY + SCENARIO_MODEL)
    assert not loaded, sorted(loaded)


def test_run_imports_the_core_and_matplotlib(tmp_path: Path) -> None:
    done, modules = imported("run", str(SCENARIO), "-o", str(tmp_path / "out"), "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "plots" / "latency_cdf.png").is_file()
    assert {"matplotlib", "simpy", "networkx"} <= modules
    assert "pyarrow" not in modules


def test_a_parquet_run_imports_pyarrow_and_without_plots_no_matplotlib(tmp_path: Path) -> None:
    done, modules = imported("run", str(SCENARIO), "-o", str(tmp_path / "out"), "-q", "--no-plots",
                             "--format", "parquet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "deliveries.parquet").is_file()
    assert "pyarrow" in modules and "matplotlib" not in modules


def test_public_api_still_exports_run_and_result() -> None:
    done = subprocess.run([sys.executable, "-c", "from simulator import load_scenario, run, Result, Scenario; "
                           "import sys; print(run.__module__, Result.__module__, 'simpy' in sys.modules)"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["simulator.runner", "simulator.runner", "False"]


def test_the_console_script_loads_nothing_before_it_is_run() -> None:
    code = ("import sys, simulator.launch; "
            "print(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('numpy', 'pydantic', 'yaml')),"
            " sorted(m for m in sys.modules if 'simulator' in m))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] ['simulator', 'simulator.launch']"


class _CtrlCOnImport(importlib.abc.MetaPathFinder):
    """A finder that raises KeyboardInterrupt when asked for ``simulator.cli``: a Ctrl-C while it loads."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "simulator.cli":
            raise KeyboardInterrupt
        return None


def test_a_ctrl_c_while_the_command_line_loads_ends_it_quietly_with_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulator import launch

    monkeypatch.delitem(sys.modules, "simulator.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_CtrlCOnImport(), *sys.meta_path])
    with pytest.raises(SystemExit) as ended:
        launch.entrypoint()
    assert ended.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
