"""Checks on a whole workflow config that a JSON schema cannot express.

The schema (workflow/schemas/config.schema.yaml) catches misspelt keys and wrong
types; this catches dangling references (an experiment naming a model that is not
defined, a model neither trained nor loaded) and unknown registry names, before any
job starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_config", "ConfigError"]


class ConfigError(ValueError):
    """The workflow config is inconsistent."""


def _known(kind: str, name: str, known: list[str], where: str) -> None:
    if name not in known:
        raise ConfigError(f"{where}: unknown {kind} {name!r}; defined: {sorted(known)}")


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the key and the fix for any dangling reference."""
    from .data import list_datasets
    from .engine import list_objectives
    from .engine.schedule import Schedule
    from .models import list_adapters

    datasets, models, strategies = config["datasets"], config["models"], config["strategies"]
    for name, spec in datasets.items():
        _known("dataset source", spec["source"], list_datasets(), f"datasets.{name}.source")
    for name, spec in models.items():
        _known("model adapter", spec["adapter"], list_adapters(), f"models.{name}.adapter")
        if spec.get("checkpoint") is None and spec.get("train") is None:
            raise ConfigError(f"models.{name}: give either a 'checkpoint' to load or a 'train' section")
        if spec.get("train") is not None:
            _known("dataset", spec.get("train_dataset"), list(datasets), f"models.{name}.train_dataset")
    for name, spec in strategies.items():
        for objective in [spec.get("loss", "l2"), *spec.get("extra_objectives", [])]:
            _known("objective", objective, list_objectives(), f"strategies.{name}")
        try:
            Schedule(tuple(spec["evaluations"]), tuple(spec.get("keep", [1])))
        except ValueError as exc:
            raise ConfigError(f"strategies.{name}: {exc}") from None
    for i, run in enumerate(config["experiments"]):
        where = f"experiments[{i}]"
        _known("dataset", run["dataset"], list(datasets), where)
        _known("model", run["model"], list(models), where)
        _known("strategy", run["strategy"], list(strategies), where)
    check_robustness_config(config)


# --- robustness study: zoo, shifts, fits ---------------------------------------------
def check_robustness_config(config: dict[str, Any]) -> None:
    """Dangling names of the sections ``zoo``, ``shifts`` and ``robustness``."""
    datasets = config["datasets"]
    zoo = config.get("zoo", {})
    zoo_models, settings = zoo.get("models", {}), zoo.get("settings", {})
    for name in zoo.get("members") or []:
        _known("zoo model", name, list(zoo_models), "zoo.members")
    for name, spec in zoo_models.items():
        if spec.get("train") is not None:
            _known("dataset", spec.get("train_dataset"), list(datasets), f"zoo.models.{name}.train_dataset")
    for name, spec in settings.items():
        _known("dataset", spec["dataset"], list(datasets), f"zoo.settings.{name}.dataset")
        if spec.get("classes_from"):
            _known("dataset", spec["classes_from"], list(datasets), f"zoo.settings.{name}.classes_from")
    for name, spec in config.get("shifts", {}).items():
        _known("dataset", name, list(datasets), f"shifts.{name} (a shift must also be listed in 'datasets')")
        _known("dataset", spec["base"], list(datasets), f"shifts.{name}.base")
        if spec.get("reference"):
            _known("zoo model", spec["reference"], list(zoo_models), f"shifts.{name}.reference")
    runs = {(r["dataset"], r["model"], r["strategy"]) for r in config["experiments"]}
    for name, fit in config.get("robustness", {}).get("fits", {}).items():
        where = f"robustness.fits.{name}"
        for key in ("id_setting", "ood_setting"):
            _known("zoo setting", fit[key], list(settings), f"{where}.{key}")
        if fit.get("reference"):
            _known("zoo model", fit["reference"], list(zoo_models), f"{where}.reference")
        for i, row in enumerate(fit.get("diffusion", [])):
            for key in ("id_dataset", "ood_dataset"):
                if (row[key], row["model"], row["strategy"]) not in runs:
                    raise ConfigError(
                        f"{where}.diffusion[{i}]: no experiment {{dataset: {row[key]}, model: {row['model']}, "
                        f"strategy: {row['strategy']}}}; add it to 'experiments'"
                    )
        members = zoo.get("members") or list(zoo_models)
        if fit.get("reference") and fit["reference"] not in members:
            raise ConfigError(f"{where}.reference {fit['reference']!r} is not among zoo.members {members}")
        if len(members) < 2:
            raise ConfigError(f"{where}: the zoo has {len(members)} model(s); a line needs at least 2")
