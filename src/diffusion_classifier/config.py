"""Generic helpers for config sections: a frozen dataclass from a section, device and
dtype by name, the error a bad section raises, and the vocabulary of the config
dataclasses' annotations (ranges, names, defaults the workflow fills or not).

Low level on purpose: no import of the rest of the package and no torch at import
time (torch only inside the device and dtype helpers), so the data, model and
baseline packages, the section specs (:mod:`.specs`) and the torch-free workflow
checks (:mod:`.workflow_config`, imported by the Snakefile) all build their configs
the same way.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import Field, GetPydanticSchema

from .errors import UserError

if TYPE_CHECKING:
    import torch

__all__ = ["ConfigError", "DTYPES", "DEVICE_PATTERN", "Device", "from_dict", "check_options", "check_value",
           "resolve_device", "resolve_dtype", "Name", "Positive", "NonNegative", "PositiveFloat", "Fraction", "one_of",
           "section", "unfilled", "optional_key"]

T = TypeVar("T")

#: Config name -> torch dtype attribute.
DTYPES = ("float32", "float16", "bfloat16")


# --- the vocabulary of the config dataclasses' annotations -------------------------------
# The dataclasses of :mod:`.specs` and :mod:`.workflow_config`, and the libraries' own
# settings they hold, are the one home of every key, type, default and range:
# :mod:`.config_schema` generates the workflow's JSON schema from their annotations (these
# constraints) and docstrings (their ``Attributes:``). At run time a dataclass ignores the
# annotations; its ``__post_init__`` checks what it needs.

#: A name that becomes part of file paths and job wildcards: letters, digits, '_', '.', '-',
#: starting with a letter or digit (no spaces, quotes or shell characters).
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
#: A count or size of at least one.
Positive = Annotated[int, Field(ge=1)]
#: A count, index or timestep of at least zero.
NonNegative = Annotated[int, Field(ge=0)]
#: A rate or scale above zero (a learning rate).
PositiveFloat = Annotated[float, Field(gt=0)]
#: A share: 0 to 1.
Fraction = Annotated[float, Field(ge=0, le=1)]
#: The devices torch can be asked for: ``auto`` (CUDA when present), ``cpu``, ``cuda``,
#: ``cuda:<index>``, ``mps``. Whether this machine has it is checked when it is resolved.
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:[0-9]+)?)$"
Device = Annotated[str, Field(pattern=DEVICE_PATTERN)]


def one_of(names: Any) -> Any:
    """Annotation metadata: the value is one of ``names`` (a collection, or a function giving
    it), read from its one home (a registry, a table) when the schema is generated."""
    def extra(schema: dict) -> None:
        schema["enum"] = list(names() if callable(names) else names)

    return Field(json_schema_extra=extra)


def unfilled(**default: Any) -> Any:
    """A field (``default=`` or ``default_factory=``) whose default the workflow does not write
    into the config when the key is absent: the schema states it in the description, not as a
    ``default:`` that Snakemake fills, so the section's JSON, and the run keys and provenance
    made from it, stay as written; the stage applies the default when it parses the section."""
    return dataclasses.field(**default, metadata={"fill": False})


def optional_key() -> Any:
    """A field that is ``None`` when its key is absent, and whose key, when given, holds a value
    (the schema does not accept null there: an absent section, not a null one)."""
    return dataclasses.field(default=None, metadata={"null": False})


def section(target: type | str) -> GetPydanticSchema:
    """Annotation of a ``dict`` field that a library's dataclass parses (``Annotated[dict,
    section(Acceleration)]``): the schema of the key is that dataclass's. ``target`` may be a
    ``"module:Class"`` string, imported only when the schema is generated (a torch module)."""
    def schema(_, handler):
        cls = target
        if isinstance(cls, str):
            import importlib

            module, _, name = cls.partition(":")
            cls = getattr(importlib.import_module(module), name)
        return handler(cls)

    return GetPydanticSchema(schema)


class ConfigError(UserError, ValueError):
    """A config section is wrong or the workflow config is inconsistent; the message names the key."""


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; an unknown key, or a value of the wrong type or
    out of its annotated range (:func:`check_value`), is an error naming ``where`` and the key."""
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {data!r}")
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    hints = _hints(cls)
    for key, value in data.items():
        if key in hints:
            check_value(value, hints[key], f"{where}.{key}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_options(function: Any, options: dict[str, Any] | None, where: str, skip: int = 1) -> None:
    """Check keyword ``options`` against ``function``'s signature (after its first ``skip``
    parameters): unknown names, and values of the wrong type or out of range, are a
    :class:`ConfigError` naming ``where`` and the option (a dataset source's ``options``)."""
    import inspect

    if options is not None and not isinstance(options, dict):
        raise ConfigError(f"{where}: expected a mapping of option names to values, got {options!r}")
    parameters = list(inspect.signature(function).parameters.values())[skip:]
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    known = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    unknown = sorted(set(options or {}) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {unknown}; known options: {sorted(known)}")
    hints = _hints(function)
    for key, value in (options or {}).items():
        if key in hints:
            check_value(value, hints[key], f"{where}.{key}")


def _hints(target: Any) -> dict[str, Any]:
    """The type hints of a dataclass or function, with ``Annotated`` metadata; ``{}`` if they
    cannot be resolved (a name imported only for type checking)."""
    import typing

    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable hints: no type check, as before
        return {}


_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def check_value(value: Any, hint: Any, where: str) -> None:
    """Refuse ``value`` if it is not of the scalar type ``hint`` names (a whole number, a
    number, text, true/false, one of a ``Literal``'s values), or lies outside the
    ``Field(ge=, gt=, le=, lt=, pattern=)`` range of an ``Annotated`` hint. Booleans are
    not numbers and numbers written as strings are not numbers. Containers and classes are
    not looked into (their own parsing checks them)."""
    import re
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        check_value(value, args[0], where)
        for meta in args[1:]:
            _check_range(value, meta, where, re)
        return
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                check_value(value, arg, where)
                return
            except ConfigError as exc:
                errors.append(exc)
        if errors and len(errors) == len([a for a in args if a is not type(None)]):
            raise errors[0]
        return
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return
    if hint in _KINDS:
        ok = (isinstance(value, bool) if hint is bool else
              isinstance(value, int) and not isinstance(value, bool) if hint is int else
              isinstance(value, (int, float)) and not isinstance(value, bool) if hint is float else
              isinstance(value, str))
        if not ok:
            raise ConfigError(f"{where}: {value!r} is not {_KINDS[hint]}"
                              + (" (write it without quotes)" if isinstance(value, str) and hint is not str else ""))


def _check_range(value: Any, meta: Any, where: str, re) -> None:
    """The ``ge``/``gt``/``le``/``lt``/``pattern`` constraints of a pydantic ``Field``."""
    for constraint in getattr(meta, "metadata", ()):
        for name, test, words in (("ge", lambda v, b: v >= b, "at least"), ("gt", lambda v, b: v > b, "above"),
                                  ("le", lambda v, b: v <= b, "at most"), ("lt", lambda v, b: v < b, "below")):
            bound = getattr(constraint, name, None)
            if bound is not None and isinstance(value, (int, float)) and not test(value, bound):
                raise ConfigError(f"{where}: {value!r} must be {words} {bound}")
        pattern = getattr(constraint, "pattern", None)
        if pattern is not None and isinstance(value, str) and not re.search(pattern, value):
            raise ConfigError(f"{where}: {value!r} does not match {pattern}")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; a device this machine cannot serve
    (no such device type, no CUDA, a GPU index past the last) is a :class:`ConfigError`."""
    import re

    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(name, str) or not re.fullmatch(DEVICE_PATTERN, name):
        raise ConfigError(f"device {name!r} is not one of auto, cpu, cuda, cuda:<index>, mps")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {name!r}: this machine has no CUDA GPU; use 'cpu' or 'auto'")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device {name!r}: this machine has {count} CUDA GPU(s) (cuda:0..cuda:{count - 1})")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name!r}: MPS is not available on this machine; use 'cpu' or 'auto'")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The model dtype; half precision falls back to float32 on the CPU."""
    import torch

    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; choose one of {sorted(DTYPES)}")
    return torch.float32 if device.type == "cpu" else getattr(torch, name)
