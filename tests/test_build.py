"""The build compiles the modules setup.py names, and an installed wheel runs them compiled.

setup.py lists the event-loop modules mypyc compiles (``COMPILED``). The list is read here from
the file's syntax (running setup.py would run a build). Every entry must be a module of the
package. A test run of an installed wheel (CI's second pass, with ``MAILSIM_EXPECT_COMPILED=1``)
must import each of them as a C extension, not as its ``.py`` file: otherwise that pass would test
the pure-Python package a second time and say nothing of the compiled one.
"""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import pytest

from simulator import buildinfo

ROOT = Path(__file__).resolve().parent.parent


def compiled_paths() -> list[str]:
    """The ``COMPILED`` list of setup.py, as written there."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return value
    raise AssertionError("setup.py has no COMPILED list")


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def test_every_compiled_module_is_a_module_of_the_package() -> None:
    paths = compiled_paths()
    assert paths, "setup.py compiles nothing"
    assert len(set(paths)) == len(paths)
    for path in paths:
        assert path.startswith("simulator/") and path.endswith(".py"), path
        assert (ROOT / path).is_file(), path


def test_the_build_says_whether_it_is_compiled() -> None:
    """``mailsim --version`` and the benchmark say which build runs: compiled in the wheel's test
    pass, pure Python in the editable install's."""
    expected = bool(os.environ.get("MAILSIM_EXPECT_COMPILED"))
    assert buildinfo.compiled() is expected
    assert buildinfo.describe() == ("event loop compiled by mypyc" if expected else "pure Python")
    assert buildinfo.PROBE in map(module_name, compiled_paths())


@pytest.mark.skipif(not os.environ.get("MAILSIM_EXPECT_COMPILED"),
                    reason="only a test run of an installed wheel expects compiled modules")
def test_an_installed_wheel_runs_every_listed_module_compiled() -> None:
    for path in compiled_paths():
        name = module_name(path)
        assert buildinfo.compiled(name), name
        module = importlib.import_module(name)
        assert module.__file__ is not None and not Path(module.__file__).is_relative_to(ROOT / "simulator"), \
            f"{module.__file__} is the source tree's"


def test_mailsim_version_names_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator import __version__, cli

    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"mailsim {__version__} ({buildinfo.describe()})"
