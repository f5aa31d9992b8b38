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
    _check_text_conditional(config)


# --- zero-shot and compositional runs (text-conditional models) ------------------------
def _check_text_conditional(config: dict[str, Any]) -> None:
    """Prompt templates, compositional runs, and one shared split for the digit datasets."""
    from .models import adapter_uses_prompts
    from .models.prompts import PromptSpec, PromptTableError

    datasets, models, strategies = config["datasets"], config["models"], config["strategies"]
    for name, spec in datasets.items():
        try:
            PromptSpec(spec.get("prompt_template", "{}"), spec.get("prompt_class_names"))
        except PromptTableError as exc:
            raise ConfigError(f"datasets.{name}.prompt_template: {exc}") from None
    for i, run in enumerate(config["experiments"]):
        if adapter_uses_prompts(models[run["model"]]["adapter"]) and "prompt_template" not in datasets[run["dataset"]]:
            raise ConfigError(
                f"experiments[{i}]: model {run['model']!r} is text-conditional, so datasets.{run['dataset']} "
                "needs a prompt_template (e.g. 'a photo of a {}.')"
            )
    for i, run in enumerate(config.get("compositional", [])):
        where = f"compositional[{i}]"
        _known("dataset", run["dataset"], list(datasets), where)
        _known("model", run["model"], list(models), where)
        _known("strategy", run["strategy"], list(strategies), where)
        if not adapter_uses_prompts(models[run["model"]]["adapter"]):
            raise ConfigError(f"{where}: model {run['model']!r} is not text-conditional; captions need one")
        if len(strategies[run["strategy"]]["evaluations"]) != 1:
            raise ConfigError(f"{where}: strategy {run['strategy']!r} has several stages; compositional runs "
                              "score both captions at the same timesteps: use a one-stage strategy")
    _check_digit_splits(datasets)


def _check_digit_splits(datasets: dict[str, Any]) -> None:
    """Datasets cut from scikit-learn's digits must share one split, or test digits leak into training."""
    import inspect

    from .data import get_dataset

    splits = {}
    for name, spec in datasets.items():
        if spec["source"] not in ("sklearn_digits", "digit_captions"):
            continue
        defaults = inspect.signature(get_dataset(spec["source"]).prepare).parameters
        options = spec.get("options", {})
        splits[name] = tuple(options.get(k, defaults[k].default) for k in ("test_fraction", "seed"))
    if len(set(splits.values())) > 1:
        raise ConfigError(
            f"datasets built from the digits use different train/test splits (test_fraction, seed): {splits}; "
            "give them the same options.test_fraction and options.seed, or test digits leak into training"
        )
