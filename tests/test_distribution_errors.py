"""A distribution with a parameter missing says which one, at its key path, for every kind and
every field that takes a distribution; a misspelt parameter also says what is still missing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from simulator.cli import main

BASE = """
name: distributions
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
servers:
  mx.a: {domains: [a.example]}
users:
  - {address: a@a.example, at: lan.a}
  - {address: b@a.example, at: lan.a}
traffic:
  - {from: a.example, to: a.example, rate: 1/h, size: 1KB}
"""

FIELDS = {
    "size": ("size",),
    "recipients": ("recipients",),
    "attachment size": ("attachments", "size"),
    "think": ("reply", "think"),
}
VALUES = {"size": "10KB", "recipients": 2, "attachment size": "300KB", "think": "5m"}
MISSING = [
    ("lognormal", {"median": "V"}, "sigma", "lognormal needs 'sigma'"),
    ("lognormal", {"sigma": 1.0}, "median", "lognormal needs 'median'"),
    ("lognormal", {}, "median", "lognormal needs 'median' and 'sigma'"),
    ("exponential", {}, "mean", "exponential needs 'mean'"),
    ("uniform", {"low": "V"}, "high", "uniform needs 'high'"),
    ("uniform", {"high": "V"}, "low", "uniform needs 'low'"),
]


def validate(tmp_path: Path, traffic: dict[str, object]) -> tuple[int, str]:
    data = yaml.safe_load(BASE)
    data["traffic"][0].update(traffic)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out, err = io.StringIO(), io.StringIO()
    code = main(["validate", str(path)], out, err)
    return code, err.getvalue()


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(("kind", "params", "missing", "message"), MISSING)
def test_a_missing_parameter_is_named(tmp_path: Path, field: str, kind: str, params: dict[str, object],
                                      missing: str, message: str) -> None:
    given = {key: VALUES[field] if value == "V" else value for key, value in params.items()}
    distribution = {kind: given}
    keys = FIELDS[field]
    traffic: dict[str, object] = {keys[0]: distribution}
    if len(keys) == 2:
        traffic = {keys[0]: {"probability": 0.5, keys[1]: distribution}}
    code, err = validate(tmp_path, traffic)
    assert code == 2
    path = ".".join(("traffic", "0", *keys, kind, missing))
    assert f"{path}: {message} (line " in err, err


def test_a_misspelt_parameter_says_what_is_missing(tmp_path: Path) -> None:
    code, err = validate(tmp_path, {"size": {"lognormal": {"median": "10KB", "sd": 2}}})
    assert code == 2
    assert ("traffic.0.size.lognormal.sd: unknown key 'sd' for lognormal (its keys are median, sigma; "
            "lognormal needs 'sigma')") in err
    code, err = validate(tmp_path, {"size": {"uniform": {"lo": 1, "high": 2}}})
    assert "unknown key 'lo' for uniform; did you mean 'low'?" in err
