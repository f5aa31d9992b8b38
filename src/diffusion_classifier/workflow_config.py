"""Checks on a whole workflow config that a JSON schema cannot express.

The schema (workflow/schemas/config.schema.yaml) catches misspelt keys and wrong
types; this catches dangling references (an experiment naming a model that is not
defined, a model neither trained nor loaded) and unknown registry names, before any
job starts.
"""

from __future__ import annotations

from typing import Any

from .errors import UserError

__all__ = ["check_config", "check_names", "ConfigError", "PROMPT_ADAPTERS", "AUTHORS_PROMPTS_URL", "AUDIT_WEIGHT_FILES"]


class ConfigError(UserError, ValueError):
    """The workflow config is inconsistent."""


def _known(kind: str, name: str, known: list[str], where: str) -> None:
    if name not in known:
        raise ConfigError(f"{where}: unknown {kind} {name!r}; defined: {sorted(known)}")


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the key and the fix for any dangling reference.

    :func:`check_names` first, then every name looked up in the package's registries and
    every section parsed by its spec (which imports the package, torch included).
    """
    check_names(config)
    _check_registries(config)


def check_names(config: dict[str, Any]) -> None:
    """The references between the config's own sections (torch-free: the Snakefile runs it when parsing)."""
    datasets, models, strategies = config["datasets"], config["models"], config["strategies"]
    for name, spec in models.items():
        if spec.get("checkpoint") is None and spec.get("train") is None:
            raise ConfigError(f"models.{name}: give either a 'checkpoint' to load or a 'train' section")
        if spec.get("train") is not None:
            _known("dataset", spec.get("train_dataset"), list(datasets), f"models.{name}.train_dataset")
    for i, run in enumerate(config["experiments"]):
        where = f"experiments[{i}]"
        _known("dataset", run["dataset"], list(datasets), where)
        _known("model", run["model"], list(models), where)
        _known("strategy", run["strategy"], list(strategies), where)
    if config.get("noise_pairing"):
        _known("dataset", config["noise_pairing"]["dataset"], list(datasets), "noise_pairing.dataset")
        _known("model", config["noise_pairing"]["model"], list(models), "noise_pairing.model")
    _check_audit_and_baselines(config)
    _check_supervised(config)
    check_robustness_config(config)
    _check_compositional(config)


def _check_registries(config: dict[str, Any]) -> None:
    """Registry names (sources, adapters, objectives, ...) and the sections their specs parse."""
    from .data import list_datasets
    from .engine import list_objectives
    from .models import list_adapters
    from .specs import StrategySpec, from_dict

    datasets, models, strategies = config["datasets"], config["models"], config["strategies"]
    for name, spec in datasets.items():
        _known("dataset source", spec["source"], list_datasets(), f"datasets.{name}.source")
    for name, spec in models.items():
        _known("model adapter", spec["adapter"], list_adapters(), f"models.{name}.adapter")
    for name, spec in strategies.items():
        for objective in [spec.get("loss", "l2"), *spec.get("extra_objectives", [])]:
            _known("objective", objective, list_objectives(), f"strategies.{name}")
        try:
            from_dict(StrategySpec, spec, f"strategies.{name}").scoring_config(1000, 1)
        except ValueError as exc:
            raise ConfigError(f"strategies.{name}: {exc}") from None
    for i, run in enumerate(config["experiments"]):
        _check_runnable_schedule(run, config, f"experiments[{i}]")
    _check_baseline_specs(config)
    _check_stored_objectives(config)
    _check_sequential_study(config)
    _check_testbed_trend(config.get("robustness", {}))
    _check_text_conditional(config)
    _check_sd_baselines(config)


def known_num_classes(name: str, spec: dict[str, Any]) -> int | None:
    """Classes of dataset ``name`` when the config alone tells (else ``None``).

    Prompt class names list them; a dataset of the paper (same name and source as
    :data:`~diffusion_classifier.data.paper_settings.PAPER_SETTINGS`) has the paper's count.
    """
    from .data.paper_settings import PAPER_SETTINGS

    if spec.get("prompt_class_names"):
        return len(spec["prompt_class_names"])
    paper = PAPER_SETTINGS.get(name)
    if paper is not None and paper.source == spec.get("source"):
        return paper.num_classes
    return None


def _check_runnable_schedule(run: dict[str, Any], config: dict[str, Any], where: str) -> None:
    """The experiment's schedule on its model's timesteps and, where known, its dataset's classes."""
    from .specs import StrategySpec, from_dict

    strategy = from_dict(StrategySpec, config["strategies"][run["strategy"]], f"strategies.{run['strategy']}")
    train = config["models"][run["model"]].get("train") or {}
    num_classes = known_num_classes(run["dataset"], config["datasets"][run["dataset"]])
    try:
        schedule = strategy.schedule(int(train.get("num_train_timesteps", 1000)))
        if num_classes is not None:
            schedule.check_classes(num_classes)
    except ValueError as exc:
        raise ConfigError(f"{where}: strategy {run['strategy']!r} on dataset {run['dataset']!r}: {exc}") from None


# ---------------------------------------------------------------------------------------
# LAION-filter audit (Table 2), CLIP baselines and Table 1.
def _check_audit_and_baselines(config: dict[str, Any]) -> None:
    """Names used by ``audit``, ``baselines`` and ``table1`` must be defined elsewhere."""
    datasets = list(config["datasets"])
    for name in (config.get("audit") or {}).get("datasets", []):
        _known("dataset", name, datasets, "audit.datasets")
    baselines = config.get("baselines") or {}
    clip_models = baselines.get("clip_models", {})
    for section in ("zero_shot", "winoground"):
        for name in (baselines.get(section) or {}).get("models", []):
            _known("CLIP model", name, list(clip_models), f"baselines.{section}.models")
    for name in (baselines.get("zero_shot") or {}).get("datasets", []):
        _known("dataset", name, datasets, "baselines.zero_shot.datasets")
    for section in ("synthetic", "features"):
        spec = baselines.get(section) or {}
        if spec.get("model") is not None:
            _known("model", spec["model"], list(config["models"]), f"baselines.{section}.model")
        for name in spec.get("datasets", []):
            _known("dataset", name, datasets, f"baselines.{section}.datasets")
        for column, name in spec.get("train_from", {}).items():
            _known("dataset", name, datasets, f"baselines.{section}.train_from.{column}")
    table1 = config.get("table1") or {}
    runs = {(r["dataset"], r["model"], r["strategy"]) for r in config["experiments"]}
    for name in table1.get("datasets", []):
        _known("dataset", name, datasets, "table1.datasets")
    for name, run in table1.get("diffusion_classifier", {}).items():
        _known("dataset", name, table1.get("datasets", []), "table1.diffusion_classifier")
        if (name, run["model"], run["strategy"]) not in runs:
            raise ConfigError(f"table1.diffusion_classifier.{name}: no experiment {{dataset: {name}, model: "
                              f"{run['model']}, strategy: {run['strategy']}}}; add it to 'experiments'")



def _check_baseline_specs(config: dict[str, Any]) -> None:
    """CLIP backends, Table 1 rows and the zero-shot templates of ``baselines``."""
    from .baselines import list_clip_backends
    from .reporting.table1 import TABLE1_ROWS
    from .specs import ZeroShotSpec, from_dict

    baselines = config.get("baselines") or {}
    for name, spec in baselines.get("clip_models", {}).items():
        _known("CLIP backend", spec.get("backend", "open_clip"), list_clip_backends(),
               f"baselines.clip_models.{name}.backend")
        if spec.get("table1_row") is not None:
            _known("Table 1 row", spec["table1_row"], [r.key for r in TABLE1_ROWS],
                   f"baselines.clip_models.{name}.table1_row")
    if baselines.get("zero_shot"):
        zero_shot = from_dict(ZeroShotSpec, baselines["zero_shot"], "baselines.zero_shot")
        for name in zero_shot.datasets:
            try:
                zero_shot.template(name)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


def _check_supervised(config: dict[str, Any]) -> None:
    """Every run the stored-error analyses read must be one of the experiments."""
    section = config.get("supervised") or {}
    scored = {(r["dataset"], r["model"], r["strategy"]) for r in config["experiments"]}

    def scored_run(dataset: str, model: str, strategy: str, where: str) -> None:
        if (dataset, model, strategy) not in scored:
            raise ConfigError(f"{where}: run {dataset}/{model}/{strategy} is not in experiments; "
                              "add it there so that its errors are scored and stored")

    if "timesteps" in section:
        s = section["timesteps"]
        for key in ("even", "repeats"):
            scored_run(s["dataset"], s["model"], s[key], f"supervised.timesteps.{key}")
    for i, run in enumerate((section.get("objectives") or {}).get("runs", [])):
        scored_run(run["dataset"], run["model"], run["strategy"], f"supervised.objectives.runs[{i}]")
    if "schedules" in section:
        s = section["schedules"]
        for strategy in [s["strategy"], *s.get("direct", [])]:
            scored_run(s["dataset"], s["model"], strategy, "supervised.schedules")
        for i, run in enumerate(s.get("sequential_runs", [])):
            scored_run(run["dataset"], run["model"], run["strategy"], f"supervised.schedules.sequential_runs[{i}]")
        if s.get("sequential_runs") and not (s.get("study") or {}).get("sequential"):
            raise ConfigError("supervised.schedules.sequential_runs needs supervised.schedules.study.sequential "
                              "(the k curve to replay on them)")


def _check_stored_objectives(config: dict[str, Any]) -> None:
    """Table 5's runs store every objective it compares (after the objective names are known)."""
    section = (config.get("supervised") or {}).get("objectives") or {}
    for i, run in enumerate(section.get("runs", [])):
        stored = {config["strategies"][run["strategy"]].get("loss", "l2"),
                  *config["strategies"][run["strategy"]].get("extra_objectives", [])}
        missing = sorted(set(section.get("objectives", ["l2", "vlb", "l2_vlb"])) - stored)
        if missing:
            raise ConfigError(f"supervised.objectives.runs[{i}]: strategy {run['strategy']!r} does not store "
                              f"{missing}; add them to its extra_objectives")


def _check_sequential_study(config: dict[str, Any]) -> None:
    """``supervised.schedules.study.sequential``: the k curve the sequential strategy replays."""
    from .reporting.schedule_study import SequentialStudySpec
    from .specs import from_dict

    sequential = (((config.get("supervised") or {}).get("schedules") or {}).get("study") or {}).get("sequential")
    if sequential:
        try:
            from_dict(SequentialStudySpec, sequential, "supervised.schedules.study.sequential").configs()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


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


def _check_testbed_trend(robustness: dict[str, Any]) -> None:
    """With ``robustness.trend.source: testbed`` every fit names known testbed columns and selection."""
    from .robustness.testbed import SELECTIONS, TESTBED_COLUMNS

    if (robustness.get("trend") or {}).get("source", "zoo") != "testbed":
        return
    for name, fit in robustness.get("fits", {}).items():
        where = f"robustness.fits.{name}.testbed"
        if not fit.get("testbed"):
            raise ConfigError(f"{where} is missing: robustness.trend.source is testbed, so give "
                              "{id: <testbed column>, ood: <testbed column>, selection: standard|imagenet_a}")
        for key in ("id", "ood"):
            _known("testbed column", fit["testbed"][key], list(TESTBED_COLUMNS[2:]), f"{where}.{key}")
        _known("testbed selection", fit["testbed"].get("selection", "standard"), SELECTIONS.names(),
               f"{where}.selection")


# --- zero-shot and compositional runs (text-conditional models) ------------------------
def _check_text_conditional(config: dict[str, Any]) -> None:
    """Prompt templates, compositional runs, and one shared split for the digit datasets."""
    from .models import adapter_uses_prompts
    from .models.prompts import PromptSpec, PromptTableError

    datasets, models = config["datasets"], config["models"]
    for name, spec in datasets.items():
        try:
            PromptSpec(spec.get("prompt_template", "{}"), spec.get("prompt_class_names"))
        except PromptTableError as exc:
            raise ConfigError(f"datasets.{name}.prompt_template: {exc}") from None
    for i, run in enumerate(config["experiments"]):
        spec = datasets[run["dataset"]]
        if not adapter_uses_prompts(models[run["model"]]["adapter"]):
            continue
        if "prompt_template" not in spec and not spec.get("prompt_table"):
            raise ConfigError(
                f"experiments[{i}]: model {run['model']!r} is text-conditional, so datasets.{run['dataset']} "
                "needs a prompt_template (e.g. 'a photo of a {}.') or a prompt_table"
            )
        if not spec.get("prompt_table"):
            _check_template_prompts(run["dataset"], spec)
    for i, run in enumerate(config.get("compositional", [])):
        if not adapter_uses_prompts(models[run["model"]]["adapter"]):
            raise ConfigError(f"compositional[{i}]: model {run['model']!r} is not text-conditional; "
                              "captions need one")
    _check_digit_splits(datasets)


def _check_compositional(config: dict[str, Any]) -> None:
    """Compositional runs name defined datasets, models and one-stage strategies; table3 one of them."""
    datasets, models, strategies = config["datasets"], config["models"], config["strategies"]
    for i, run in enumerate(config.get("compositional", [])):
        where = f"compositional[{i}]"
        _known("dataset", run["dataset"], list(datasets), where)
        _known("model", run["model"], list(models), where)
        _known("strategy", run["strategy"], list(strategies), where)
        if len(strategies[run["strategy"]]["evaluations"]) != 1:
            raise ConfigError(f"{where}: strategy {run['strategy']!r} has several stages; compositional runs "
                              "score both captions at the same timesteps: use a one-stage strategy")
    _check_table3(config)


def _check_template_prompts(name: str, spec: dict[str, Any]) -> None:
    """Identical template prompts of two classes, when the class names are known before preparing."""
    from .data.registry import known_class_names
    from .models.prompts import PromptSpec, PromptTableError, check_identical_prompts

    prompt = PromptSpec(spec.get("prompt_template", "{}"), spec.get("prompt_class_names"))
    names = prompt.class_names or known_class_names(spec["source"], spec.get("options", {}))
    if names:
        try:
            check_identical_prompts([prompt.template.format(n) for n in names], list(names),
                                    f"datasets.{name}.prompt_template")
        except PromptTableError as exc:
            raise ConfigError(str(exc)) from None


def _check_table3(config: dict[str, Any]) -> None:
    """``table3`` names a compositional run grouped by collapsed_tag (Table 3's columns)."""
    table3 = config.get("table3")
    if not table3:
        return
    key = (table3["dataset"], table3["model"], table3["strategy"])
    runs = [r for r in config.get("compositional", []) if (r["dataset"], r["model"], r["strategy"]) == key]
    if not runs:
        raise ConfigError(f"table3: {'/'.join(key)} is not a compositional run; add it to compositional")
    if "collapsed_tag" not in runs[0].get("group_by", ["collapsed_tag"]):
        raise ConfigError("table3: its compositional run must group by collapsed_tag (Table 3's columns); "
                          "add collapsed_tag to its group_by")


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


# --- Table 1: Synthetic SD Data and SD Features ----------------------------------------
def _check_sd_baselines(config: dict[str, Any]) -> None:
    """``baselines.synthetic`` / ``baselines.features``: known text-conditional model and datasets."""
    from .baselines.sd_features import FeatureSpec
    from .baselines.synthetic import SyntheticSpec
    from .models import adapter_uses_prompts
    from .specs import from_dict

    baselines = config.get("baselines") or {}
    for section, spec_cls in (("synthetic", SyntheticSpec), ("features", FeatureSpec)):
        if not baselines.get(section):
            continue
        where = f"baselines.{section}"
        try:
            spec = from_dict(spec_cls, baselines[section], where)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not adapter_uses_prompts(config["models"][spec.model]["adapter"]):
            raise ConfigError(f"{where}.model: {spec.model!r} is not text-conditional; the baseline needs a "
                              "Stable-Diffusion-style model (adapter stable_diffusion)")


# --- registry facts the Snakefile reads without importing torch ------------------------
# Parsing the workflow (and `snakemake -n`) imports this module only; the packages these
# facts live in import torch. tests/workflow/test_lint.py checks each against its home.

#: Adapters conditioned on one prompt per class (models.adapter_uses_prompts).
PROMPT_ADAPTERS = frozenset({"stable_diffusion"})
#: The authors' prompt tables (models.released_prompts.AUTHORS_PROMPTS_URL).
AUTHORS_PROMPTS_URL = ("https://raw.githubusercontent.com/diffusion-classifier/diffusion-classifier/"
                       "e9f772d78b75976112d88a1002c496f6ef0cb27e/prompts")
#: The weight files of the audit's embedding filters (audit.EMBEDDING_FILTERS), as named in weights_dir.
AUDIT_WEIGHT_FILES = ("sac+logos+ava1-l14-linearMSE.pth", "clip_autokeras_binary_nsfw.safetensors")
