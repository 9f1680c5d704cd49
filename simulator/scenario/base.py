"""The base class of every scenario model: frozen, strict about keys, YAML key names
as aliases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """Base of every scenario model: frozen, strict about keys, YAML names as aliases."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    _hidden_keys: ClassVar[frozenset[str]] = frozenset()  # filled in by the loader, not YAML keys
    _extra_keys: ClassVar[tuple[str, ...]] = ()  # YAML keys the loader turns into fields

    @classmethod
    def yaml_keys(cls) -> tuple[str, ...]:
        """The keys this part of the file accepts, by their YAML names."""
        keys = [field.alias or name for name, field in cls.model_fields.items()]
        return tuple(key for key in keys if key not in cls._hidden_keys) + cls._extra_keys

    @classmethod
    def _by_alias(cls, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """``data`` with Python field names (``interval_s``) renamed to YAML keys (``interval``)."""
        names = {name: field.alias for name, field in cls.model_fields.items() if field.alias}
        return {names.get(key, key) if isinstance(key, str) else key: value for key, value in data.items()}
