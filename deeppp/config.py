"""Loading and validating a deeppp configuration.

The schema (``deeppp/schema.yaml``, linked as ``config/schema.yaml``) is the single source of
truth for keys, types, ranges and defaults. :func:`validate_config` checks everything that can be
known before any job runs, and reports the first problem as one line that names the key:

1. the YAML itself (:func:`load_config`): no duplicate keys (YAML would silently keep the last
   one), no anchors or aliases (an alias bomb expands to gigabytes), at most
   :data:`MAX_CONFIG_BYTES`, UTF-8 text;
2. the schema, with two stricter types than JSON schema's: ``integer`` is a real integer
   (``seed: 3.0`` would seed a different random stream than ``seed: 3``) and ``number`` is a
   finite int or float (no ``.nan``/``.inf``; booleans are neither);
3. what depends on several keys, on other files or on the machine, through the registry
   :data:`STAGE_CHECKS` (split fractions summing to 1, increasing bin edges, ``integer_bits <
   total_bits``, the ml budgets, the detector card, threads within the machine's cores...).
   Each check imports only its stage's torch-free settings modules, because the Snakefile calls
   this at parse time.

The workflow (Snakefile) and every CLI call the same functions, so a bad config fails the same
way, with the same line, before Snakemake schedules a single job.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from deeppp import DeepppError

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")
#: A config is a page of YAML; anything larger (or an endless device such as /dev/zero) is refused.
MAX_CONFIG_BYTES = 1 << 20
#: Overrides the core count that ``*.threads`` may not exceed (for a submit host with fewer
#: cores than the cluster nodes its jobs run on).
MAX_THREADS_ENV = "DEEPPP_MAX_THREADS"


class ConfigError(DeepppError):
    """The configuration is invalid; the message names the key."""


@cache
def schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


# --------------------------------------------------------------------------------------------
# YAML


class _RefusedYAML(Exception):
    """A YAML construct deeppp refuses (duplicate key, anchor, alias), with its line."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = mark.line + 1 if mark is not None else None


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate mapping keys, anchors and aliases.

    Duplicate keys are legal YAML 1.1 for PyYAML, which keeps the last value: a config with two
    ``seed:`` lines runs with whichever came last. Anchors/aliases are refused outright: a
    config has no need for them and a nested alias bomb expands to gigabytes when the config is
    copied or validated.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Refusing anchors is enough: an alias needs one (an undefined alias is a YAML error).
        event = self.peek_event()
        if not isinstance(event, yaml.AliasEvent) and getattr(event, "anchor", None) is not None:
            raise _RefusedYAML(
                f"anchor &{event.anchor} (anchors and aliases are not allowed in a config)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: let PyYAML report it as it always does
                continue
            if first is not None:
                raise _RefusedYAML(
                    f"duplicate key {key!r} (first defined on line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """Parse config text with :class:`StrictLoader`; errors are one line naming ``source``."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # StrictLoader is a SafeLoader
    except _RefusedYAML as err:
        line = f"line {err.line}: " if err.line is not None else ""
        raise ConfigError(f"{source}: {line}{err.problem}") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        what = err.problem or err.context or "syntax error"
        raise ConfigError(f"{source} is not valid YAML: {where}{_one_line(what)}") from None
    except yaml.YAMLError as err:
        reason = _one_line(str(err).splitlines()[0] if str(err) else type(err).__name__)
        raise ConfigError(f"{source} is not valid YAML: {reason}") from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply") from None


def read_config_file(path: str | os.PathLike[str], what: str = "config file") -> dict[str, Any]:
    """The mapping in a YAML config file, before validation (strict YAML, size-limited).

    Also used for the other YAML inputs a config names (the detector card): ``what`` says which.
    """
    p = Path(path)
    source = f"{what} {p}"
    try:
        with open(p, "rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{source} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{source} is a directory, not a YAML file") from None
    except OSError as err:
        raise ConfigError(f"cannot read {source}: {err.strerror or err}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source} is larger than {MAX_CONFIG_BYTES // 1024} KiB (not a config?)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{source} is not UTF-8 text (a binary file?)") from None
    raw = parse_yaml(text, source)
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must hold a mapping at top level")
    return raw


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config, validate it (schema and every cross-key check) and fill in defaults."""
    return validate_config(read_config_file(path), source=str(path))


# --------------------------------------------------------------------------------------------
# schema


def _is_integer(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


#: Draft 2020-12 with a real ``integer`` (3.0 is not one). Non-finite numbers never reach it:
#: :func:`validate_config` refuses them anywhere in the config first.
StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def validate_config(
    config: dict[str, Any], source: str = "config", *, machine: bool = True
) -> dict[str, Any]:
    """Return a validated copy of ``config`` with schema defaults filled in.

    Runs the schema, then the checks of :data:`STAGE_CHECKS` for each section present in
    ``config`` (the schema defaults pass all of them; a stage job reading a config that holds
    only its own section checks only that one). ``machine`` adds the limits of this machine
    (``*.threads`` within its cores); the Snakefile leaves them to the jobs when they run
    elsewhere (a cluster). Raises :class:`ConfigError` with a one-line message such as
    ``config.yaml: generation.processes.signal.chunks: -1 is less than the minimum of 1``.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: must be a mapping at top level")
    bad = first_non_finite(config)
    if bad is not None:
        where, value = bad
        raise ConfigError(f"{source}: {where}: must be a finite number, got {_yaml_repr(value)}")
    filled = _fill_defaults(copy.deepcopy(config), schema())
    validator = StrictValidator(schema())
    errors = sorted(
        validator.iter_errors(filled), key=lambda e: (len(e.path), list(map(str, e.path)))
    )
    if errors:
        raise ConfigError(f"{source}: {_describe(errors[0])}")
    checks = [check for section, check in STAGE_CHECKS.items() if section in config]
    if machine:
        checks.append(check_machine_limits)
    for check in checks:
        try:
            check(filled)
        except DeepppError as err:
            raise ConfigError(f"{source}: {_one_line(str(err))}") from None
    return filled


def first_non_finite(node: Any, where: str = "") -> tuple[str, float] | None:
    """(dotted key, value) of the first NaN or infinity anywhere in the config."""
    if isinstance(node, float) and not math.isfinite(node):
        return where or "<top level>", node
    items: Any = ()
    if isinstance(node, dict):
        items = ((str(k), v) for k, v in node.items())
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    for key, value in items:
        found = first_non_finite(value, f"{where}.{key}" if where else key)
        if found is not None:
            return found
    return None


def _yaml_repr(value: Any) -> str:
    """A value as it would be written in YAML (``true``, ``.nan``, ``3.0``, ``'text'``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        # jsonschema's message lists the extra keys; name them against the parent key.
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})), key=str)
        keys = ", ".join(f"{where}.{k}" if where != "<top level>" else str(k) for k in extra)
        return f"unknown key {keys}"
    if error.validator == "type":
        expected = error.validator_value
        types = [expected] if isinstance(expected, str) else list(expected)
        value = error.instance
        if "integer" in types and isinstance(value, float) and value.is_integer():
            return f"{where}: must be an integer, got {_yaml_repr(value)} (write {int(value)})"
        wanted = " or ".join(_TYPE_NAMES[t] for t in types)
        return f"{where}: must be {wanted}, got {_yaml_repr(value)}"
    return f"{where}: {_one_line(error.message)}"


_TYPE_NAMES = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


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


# --------------------------------------------------------------------------------------------
# checks beyond the schema: several keys, other files, this machine


def available_cores() -> int:
    """Cores ``*.threads`` may use: the machine's, or ``$DEEPPP_MAX_THREADS`` when set."""
    override = os.environ.get(MAX_THREADS_ENV)
    if override:
        try:
            value = int(override)
        except ValueError:
            raise ConfigError(f"${MAX_THREADS_ENV}={override!r} is not an integer") from None
        if value >= 1:
            return value
        raise ConfigError(f"${MAX_THREADS_ENV}={override!r} must be at least 1")
    return os.cpu_count() or 1


def check_machine_limits(config: dict[str, Any]) -> None:
    """Refuse more threads than cores: torch with 100000 threads exhausts the process ids."""
    cores = available_cores()
    for key in ("ml", "firmware"):
        threads = config[key]["threads"]
        if threads > cores:
            raise ConfigError(
                f"{key}.threads: {threads} threads exceed the {cores} CPU cores of this machine "
                f"(set ${MAX_THREADS_ENV} if the jobs run on larger machines)"
            )


def _check_top_level(config: dict[str, Any]) -> None:
    results_dir = config["results_dir"]
    if not results_dir.strip():
        raise ConfigError("results_dir: must not be empty")
    if Path(results_dir).expanduser().resolve() == Path("/").resolve():
        raise ConfigError(f"results_dir: {results_dir!r} is the file-system root")


def _check_generation(config: dict[str, Any]) -> None:
    generation = config["generation"]
    minima = {"generation.pthat_min_gev": generation["pthat_min_gev"]}
    for process, spec in generation["processes"].items():
        if "pthat_min_gev" in spec:
            minima[f"generation.processes.{process}.pthat_min_gev"] = spec["pthat_min_gev"]
    for key, pthat_min in minima.items():
        if 2 * pthat_min >= generation["sqrt_s_gev"]:
            raise ConfigError(
                f"{key}: {pthat_min} GeV leaves no phase space "
                f"at sqrt(s) = {generation['sqrt_s_gev']} GeV (needs 2 x pTHatMin < sqrt(s))"
            )


def _check_reconstruction(config: dict[str, Any]) -> None:
    from reconstruction.validation import check_reconstruction_section

    check_reconstruction_section(config["reconstruction"])


def _check_ml(config: dict[str, Any]) -> None:
    from ml.settings import MLSettings

    MLSettings.from_config(config).check_structure()


def _check_firmware(config: dict[str, Any]) -> None:
    from firmware.settings import FirmwareSettings
    from ml.settings import MLSettings, model_names

    settings = FirmwareSettings.from_config(config)
    settings.check()
    settings.models_to_build(model_names(MLSettings.from_config(config), core_only=True))


#: Checks beyond the schema, per config section: each takes the validated, default-filled config
#: and raises a :class:`DeepppError` naming the key. Stage modules imported here must stay
#: free of torch and other heavy imports (the Snakefile runs them at parse time).
STAGE_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "results_dir": _check_top_level,
    "generation": _check_generation,
    "reconstruction": _check_reconstruction,
    "ml": _check_ml,
    "firmware": _check_firmware,
}
