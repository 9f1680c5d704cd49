"""``python -m simulator``: the mailsim command line."""

from .cli import entrypoint

entrypoint()
