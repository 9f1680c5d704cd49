"""Campaigns: one message sent at an exact time to many recipients, every user a selection
names (domains, group prefixes, addresses) or ``count`` of them drawn at random."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt

from .base import Spec
from .fields import Address, Bytes, Seconds, Selection


class CampaignSpec(Spec):
    """One message from ``from`` at ``at`` to the users ``to`` selects (all, or ``count`` of them)."""

    at_s: Seconds = Field(alias="at")
    from_: Address = Field(alias="from")
    to: Selection
    count: StrictInt | None = Field(default=None, ge=1)
    size_bytes: Bytes = Field(alias="size")
    attachment_bytes: Bytes | None = Field(default=None, alias="attachment")
    eight_bit: StrictBool = False

    def to_yaml(self) -> dict[str, object]:
        return {
            "at": self.at_s,
            "from": self.from_,
            "to": list(self.to),
            "count": self.count,
            "size": self.size_bytes,
            "attachment": self.attachment_bytes,
            "eight_bit": self.eight_bit,
        }
