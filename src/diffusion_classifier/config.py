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

__all__ = ["ConfigError", "DTYPES", "from_dict", "resolve_device", "resolve_dtype", "Name", "Positive",
           "NonNegative", "one_of", "section", "unfilled", "optional_key"]

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
    """Build dataclass ``cls`` from ``data``; unknown keys are an error naming ``where``."""
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The model dtype; half precision falls back to float32 on the CPU."""
    import torch

    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; choose one of {sorted(DTYPES)}")
    return torch.float32 if device.type == "cpu" else getattr(torch, name)
