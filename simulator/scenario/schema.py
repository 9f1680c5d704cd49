"""The JSON Schema of the scenario file format, for editors (``mailsim schema``)."""

from __future__ import annotations

from typing import Any

from .fields import DURATION_SCHEMA, SECONDS_HELP
from .model import Scenario


def scenario_json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the scenario file format, for editors."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    definitions = schema["$defs"]
    server = definitions["ServerSpec"]
    server["properties"].pop("name", None)
    required = [key for key in server.get("required", []) if key != "name"]
    if required:
        server["required"] = required
    else:
        server.pop("required", None)
    schema["properties"]["defaults"] = {
        "$ref": "#/$defs/ServerSpec",
        "description": "server keys that apply to every server unless the server sets them",
    }
    definitions["OutageSpec"]["properties"]["duration"] = {
        **DURATION_SCHEMA,
        "description": "how long a scheduled outage lasts (instead of end); " + SECONDS_HELP,
    }
    definitions["TrafficSpec"]["anyOf"] = [  # a rate from somewhere: rate, steps or daily rates
        {"required": ["rate"]},
        {"required": ["steps"]},
        {"required": ["daily"], "properties": {"daily": {"required": ["rates"]}}},
    ]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
