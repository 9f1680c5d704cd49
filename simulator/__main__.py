"""``python -m simulator``: the mailsim command line."""

from .launch import entrypoint

entrypoint()
