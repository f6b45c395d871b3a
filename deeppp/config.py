"""Loading and validating a deeppp configuration.

The schema (``deeppp/schema.yaml``, linked as ``config/schema.yaml``) is the single source of
truth for keys, types, ranges and defaults; the workflow and every CLI validate with it before any
work starts, and report the first problem as one line that names the offending key.
"""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from deeppp import DeepppError

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")


class ConfigError(DeepppError):
    """The configuration is invalid; the message names the key."""


@cache
def schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config, validate it and fill in defaults."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"config file {p} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {p} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {p} must hold a mapping at top level")
    return validate_config(raw, source=str(p))


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Return a validated copy of ``config`` with schema defaults filled in.

    Raises :class:`ConfigError` with a one-line message such as
    ``config.yaml: generation.processes.signal.chunks: -1 is less than the minimum of 1``.
    """
    filled = _fill_defaults(copy.deepcopy(config), schema())
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(
        validator.iter_errors(filled), key=lambda e: (len(e.path), list(map(str, e.path)))
    )
    if errors:
        raise ConfigError(f"{source}: {_describe(errors[0])}")
    return filled


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        # jsonschema's message lists the extra keys; name them against the parent key.
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        keys = ", ".join(f"{where}.{k}" if where != "<top level>" else k for k in extra)
        return f"unknown key {keys}"
    return f"{where}: {error.message}"


def _fill_defaults(instance: Any, node: dict[str, Any]) -> Any:
    """Recursively insert ``default`` values of object properties (jsonschema does not)."""
    if "$ref" in node:
        node = _resolve(node["$ref"])
    if isinstance(instance, dict) and node.get("type") == "object":
        for key, sub in node.get("properties", {}).items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                instance[key] = _fill_defaults(instance[key], sub)
    return instance


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node
