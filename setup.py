"""The build: the package as declared in pyproject.toml, its event-loop modules compiled to C by mypyc.

The modules in :data:`COMPILED` are where a run spends its simulated time (the kernel, the network,
the SMTP exchange, servers, delivery, agents, traffic, devices, mailboxes, time bins, workers and
the retrieval protocols). mypyc compiles their type-annotated Python as it is, so a compiled
module runs the same code, and writes byte-identical result files, in about 60% of the time
(``benchmarks/README.md``). Nothing else changes: the package imports the compiled module where
there is one and the ``.py`` file otherwise.

Only a wheel is compiled (``pip install .``). An editable install (``pip install -e .``) stays
pure Python, so that an edited module takes effect without a rebuild; so does any build with
``MAILSIM_PURE_PYTHON=1`` in its environment, and a build where the C compiler fails (the
extensions are optional: pip installs the pure-Python package, and shows the compiler's error only
with ``-v``; ``mailsim --version`` says which build is installed).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import setup

COMPILED = [
    "simulator/kernel.py",
    "simulator/network.py",
    "simulator/binning.py",
    "simulator/exchange.py",
    "simulator/server.py",
    "simulator/workers.py",
    "simulator/delivery.py",
    "simulator/agents.py",
    "simulator/traffic.py",
    "simulator/devices.py",
    "simulator/mailbox.py",
    "simulator/protocols/smtp.py",
    "simulator/protocols/retrieval.py",
]
"""The modules compiled to C, as paths from the project's folder."""


def _compiling() -> bool:
    """Whether this build makes a wheel (not an editable install or metadata) and may compile."""
    return "bdist_wheel" in sys.argv and not os.environ.get("MAILSIM_PURE_PYTHON")


def _extensions() -> list[Any]:
    if not _compiling():
        return []
    from mypyc.build import mypycify

    # mypy reads the types of simpy, numpy and networkx from the build's own environment
    # (pyproject.toml's build requirements); it only type-checks, silently, the modules not compiled.
    options = ["--ignore-missing-imports", "--follow-imports=silent", "--no-warn-unused-ignores"]
    extensions = mypycify([*options, *COMPILED], opt_level="3", group_name="mailsim")
    for extension in extensions:
        extension.optional = True  # a compiler that fails leaves the pure-Python package
    return extensions


setup(ext_modules=_extensions())
