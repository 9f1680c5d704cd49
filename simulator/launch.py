"""The ``mailsim`` console script, started so that a Ctrl-C while the command line loads ends it
as a Ctrl-C later does: ``interrupted`` on stderr and exit status 130, never a traceback.

Loading the command line takes a tenth of a second or so (the modules a command uses, such as the
scenario model, are loaded later, inside :func:`simulator.cli.main`), and a Ctrl-C in that time
would raise KeyboardInterrupt out of an import, before :func:`simulator.cli.main` can catch it.
This module imports nothing but the standard library's ``sys``; the package's ``__init__`` loads
its public names only when they are used.
"""

from __future__ import annotations

import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130
"""The exit status of a command a Ctrl-C ended (as :mod:`simulator.cli` gives it)."""


def entrypoint() -> NoReturn:
    """Load the command line, then run it (:func:`simulator.cli.entrypoint`)."""
    try:
        from .cli import entrypoint as command_line
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    command_line()
