"""Mail addresses: the domain part, looked up on every hop."""

from __future__ import annotations


class _Domains(dict[str, str]):
    """Memo of address -> domain: the same few thousand addresses are looked at again and again."""

    def __missing__(self, address: str) -> str:
        domain = self[address] = address.rpartition("@")[2]
        return domain


domain_of = _Domains().__getitem__
"""The domain of an address (the part after the last @)."""
