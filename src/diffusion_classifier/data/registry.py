"""Dataset registry: one entry per dataset, keyed by name.

An entry knows how to *prepare* its dataset, i.e. obtain it (a bundled copy, a
download with checksum, or a manual step explained in the error) and write it in
the manifest format of :mod:`diffusion_classifier.data.manifest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .._registry import Registry

__all__ = ["DatasetEntry", "register_dataset", "get_dataset", "list_datasets", "prepare_dataset", "known_class_names"]

PrepareFn = Callable[..., Path]


@dataclass(frozen=True)
class DatasetEntry:
    """How to obtain one dataset.

    Attributes:
        name: Registry key, used in configs and output paths.
        prepare: ``prepare(out_dir, **options) -> out_dir`` writes the manifest form.
        description: One line for ``diffusion-classifier list``.
        class_names: ``class_names(**options)``: the class names the prepared dataset
            will have, when they are known without its files (else ``None``); lets
            config validation refuse identical prompts before any job runs.
    """

    name: str
    prepare: PrepareFn
    description: str = ""
    class_names: Callable[..., Sequence[str] | None] | None = None


DATASETS: Registry[DatasetEntry] = Registry("dataset source")


def register_dataset(name: str, description: str = "", *,
                     class_names: Callable[..., Sequence[str] | None] | None = None
                     ) -> Callable[[PrepareFn], PrepareFn]:
    def decorator(fn: PrepareFn) -> PrepareFn:
        DATASETS.add(name, DatasetEntry(name, fn, description or (fn.__doc__ or "").strip().splitlines()[0],
                                        class_names))
        return fn

    return decorator


def list_datasets() -> list[str]:
    return DATASETS.names()


def get_dataset(name: str) -> DatasetEntry:
    return DATASETS.get(name)


def known_class_names(source: str, options: dict) -> Sequence[str] | None:
    """The class names dataset ``source`` will have with ``options``, if known before preparing it."""
    entry = get_dataset(source)
    return entry.class_names(**options) if entry.class_names is not None else None


def prepare_dataset(source: str, out_dir: str | Path, **options: Any) -> Path:
    """Prepare dataset ``source`` into ``out_dir`` (atomically: all or nothing)."""
    from ..artifacts.io import atomic_directory

    entry = get_dataset(source)
    with atomic_directory(out_dir) as tmp:
        entry.prepare(tmp, **options)
    return Path(out_dir)
