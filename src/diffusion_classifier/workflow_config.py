"""Checks on a whole workflow config that a JSON schema cannot express.

The schema (workflow/schemas/config.schema.yaml, generated from
:class:`~.specs.WorkflowConfig`) catches misspelt keys and wrong types; this catches dangling references (an experiment naming a model that is not
defined, a model neither trained nor loaded) and unknown registry names, before any
job starts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .audit.weights import WEIGHTS
from .config import ConfigError, from_dict
from .engine.sequential import CONDITIONAL
from .models.registry import adapter_uses_prompts, list_adapters
from .models.released_prompts import AUTHORS_PROMPTS_URL
from .specs import (ClipModelSpec, CompositionalSpec, ExperimentSpec, FeatureSpec, ObjectivesSpec, SchedulesSpec,
                    SequentialStudySpec, StrategySpec, SyntheticSpec, TestbedColumnsSpec, TrendSpec, ZeroShotSpec)

__all__ = ["check_config", "check_names", "check_references", "ConfigError", "REFERENCES", "Reference",
           "PROMPT_ADAPTERS", "AUTHORS_PROMPTS_URL", "AUDIT_WEIGHT_FILES"]


def _known(kind: str, name: str, known: list[str], where: str) -> None:
    if name not in known:
        raise ConfigError(f"{where}: unknown {kind} {name!r}; defined: {sorted(known)}")


def _registry(module: str, names: str) -> Callable[[], list[str]]:
    """The names of a registry, imported when first checked (the Snakefile imports this module)."""
    def known() -> list[str]:
        target = getattr(importlib.import_module(module, __package__), names)
        return list(target() if callable(target) else target)
    return known


def _table1_rows() -> list[str]:
    from .reporting.table1 import TABLE1_ROWS

    return [row.key for row in TABLE1_ROWS]


@dataclass(frozen=True)
class Reference:
    """A config value that must name an entry of a section or a registry.

    Attributes:
        path: Where the names stand. Dotted keys; ``*`` is every entry of a mapping,
            ``name[]`` every item of a list; the last part is the referring field, or
            ``<key>`` for the keys of the mapping itself, or ``*`` for its values.
        target: The section whose keys (or, for a list, items) are the defined names,
            or a function giving a registry's names.
        kind: What a name is, for the message ("dataset", "zoo model", ...).
        when: Check only entries where this sibling key is set (and then the field is required).
        default: The field's value when absent (else an absent field is not checked).
        hint: Appended to the location in the message.
    """

    path: str
    target: str | Callable[[], list[str]]
    kind: str
    when: str | None = None
    default: str | None = None
    hint: str = ""


#: Every name one part of the config gives to another, or to a registry.
REFERENCES: tuple[Reference, ...] = (
    Reference("datasets.*.source", _registry(".data", "list_datasets"), "dataset source"),
    Reference("models.*.adapter", _registry(".models", "list_adapters"), "model adapter"),
    Reference("models.*.train_dataset", "datasets", "dataset", when="train"),
    Reference("experiments[].dataset", "datasets", "dataset"),
    Reference("experiments[].model", "models", "model"),
    Reference("experiments[].strategy", "strategies", "strategy"),
    Reference("noise_pairing.dataset", "datasets", "dataset"),
    Reference("noise_pairing.model", "models", "model"),
    # LAION-filter audit (Table 2), CLIP baselines and Table 1
    Reference("audit.datasets[]", "datasets", "dataset"),
    Reference("baselines.clip_models.*.backend", _registry(".baselines", "list_clip_backends"), "CLIP backend",
              default=ClipModelSpec.backend),
    Reference("baselines.clip_models.*.table1_row", _table1_rows, "Table 1 row"),
    Reference("baselines.zero_shot.models[]", "baselines.clip_models", "CLIP model"),
    Reference("baselines.winoground.models[]", "baselines.clip_models", "CLIP model"),
    Reference("baselines.zero_shot.datasets[]", "datasets", "dataset"),
    Reference("table1.datasets[]", "datasets", "dataset"),
    Reference("table1.diffusion_classifier.<key>", "table1.datasets", "dataset"),
    # Table 1: Synthetic SD Data and SD Features
    Reference("baselines.synthetic.model", "models", "model"),
    Reference("baselines.synthetic.datasets[]", "datasets", "dataset"),
    Reference("baselines.features.model", "models", "model"),
    Reference("baselines.features.datasets[]", "datasets", "dataset"),
    Reference("baselines.features.train_from.*", "datasets", "dataset"),
    # zero-shot and compositional runs
    Reference("compositional[].dataset", "datasets", "dataset"),
    Reference("compositional[].model", "models", "model"),
    Reference("compositional[].strategy", "strategies", "strategy"),
    # robustness study: zoo, shifts, fits
    Reference("zoo.members[]", "zoo.models", "zoo model"),
    Reference("zoo.models.*.train_dataset", "datasets", "dataset", when="train"),
    Reference("zoo.settings.*.dataset", "datasets", "dataset"),
    Reference("zoo.settings.*.classes_from", "datasets", "dataset"),
    Reference("shifts.<key>", "datasets", "dataset", hint=" (a shift must also be listed in 'datasets')"),
    Reference("shifts.*.base", "datasets", "dataset"),
    Reference("shifts.*.reference", "zoo.models", "zoo model"),
    Reference("robustness.fits.*.id_setting", "zoo.settings", "zoo setting"),
    Reference("robustness.fits.*.ood_setting", "zoo.settings", "zoo setting"),
    Reference("robustness.fits.*.reference", "zoo.models", "zoo model"),
)


def _containers(node: Any, parts: list[str], where: str) -> Iterator[tuple[str, Any]]:
    """(location, mapping) of every container ``parts`` leads to."""
    if not parts:
        yield where, node
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for key, value in (node or {}).items():
            yield from _containers(value, rest, f"{where}.{key}")
    elif head.endswith("[]"):
        for i, item in enumerate((node or {}).get(head[:-2]) or []):
            yield from _containers(item, rest, f"{where}.{head[:-2]}[{i}]".lstrip("."))
    elif isinstance(node, dict) and node.get(head) is not None:
        yield from _containers(node[head], rest, f"{where}.{head}".lstrip("."))


def _names(reference: Reference, container: dict, where: str) -> Iterator[tuple[str, Any]]:
    """(location, name) of every name ``reference`` reads from one container."""
    field_ = reference.path.rsplit(".", 1)[-1]
    if field_ == "<key>":
        yield from ((f"{where}.{key}", key) for key in container)
    elif field_ == "*":
        yield from ((f"{where}.{key}", value) for key, value in container.items())
    elif field_.endswith("[]"):
        yield from ((f"{where}.{field_[:-2]}", value) for value in container.get(field_[:-2]) or [])
    elif reference.when is not None:
        if container.get(reference.when) is not None:
            yield f"{where}.{field_}", container.get(field_)
    elif container.get(field_, reference.default) is not None:
        yield f"{where}.{field_}", container.get(field_, reference.default)


def _defined(target: str | Callable[[], list[str]], config: dict[str, Any]) -> list[str]:
    if callable(target):
        return target()
    node: Any = config
    for key in target.split("."):
        node = (node or {}).get(key)
    return list(node or [])


def check_references(config: dict[str, Any], registries: bool | None = None) -> None:
    """Every name of :data:`REFERENCES` is defined where it points.

    ``registries``: ``False`` checks only the references between the config's own sections
    (torch-free), ``True`` only those into the package's registries, ``None`` both.
    """
    for reference in REFERENCES:
        if registries is not None and callable(reference.target) != registries:
            continue
        defined = None  # looked up once, and only when a name is there to check
        for where, container in _containers(config, reference.path.split(".")[:-1], ""):
            if not isinstance(container, dict):
                continue
            for location, name in _names(reference, container, where):
                if defined is None:
                    defined = _defined(reference.target, config)
                _known(reference.kind, name, defined, location + reference.hint)


def check_names(config: dict[str, Any]) -> None:
    """The references between the config's own sections, torch-free: the Snakefile runs it
    when parsing, so that ``snakemake -n`` refuses a dangling name at once."""
    check_references(config, registries=False)
    for name, spec in config["models"].items():
        if spec.get("checkpoint") is None and spec.get("train") is None:
            raise ConfigError(f"models.{name}: give either a 'checkpoint' to load or a 'train' section")


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the key and the fix for any dangling reference.

    :func:`check_names` first, then the names looked up in the package's registries and
    every section parsed by its spec (the objectives' registry imports torch).
    """
    from .engine import list_objectives

    check_names(config)
    check_references(config, registries=True)
    for name, spec in config["strategies"].items():
        strategy = from_dict(StrategySpec, spec, f"strategies.{name}")
        for objective in _stored_objectives(strategy):
            _known("objective", objective, list_objectives(), f"strategies.{name}")
        try:
            strategy.scoring_config(1000, 1)
        except ValueError as exc:
            raise ConfigError(f"strategies.{name}: {exc}") from None
    for i, run in enumerate(config["experiments"]):
        _check_runnable_schedule(run, config, f"experiments[{i}]")
        _check_calibration(run, config, f"experiments[{i}]")
    _check_audit_and_baselines(config)
    _check_supervised(config)
    _check_text_conditional(config)
    _check_sd_baselines(config)


def _stored_objectives(strategy) -> list[str]:
    """The objectives a strategy's runs store: its loss and extra objectives (StrategySpec's defaults)."""
    return [strategy.loss, *strategy.extra_objectives]


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


def _check_calibration(run: dict[str, Any], config: dict[str, Any], where: str) -> None:
    """A conditional sequential test has a calibration (a file, or the experiment's calibration set),
    and a calibration set belongs to such a test, on a split other than the one classified."""
    sequential = config["strategies"][run["strategy"]].get("sequential") or {}
    conditional = sequential.get("test") == CONDITIONAL
    calibration = run.get("calibration")
    if calibration and not conditional:
        raise ConfigError(f"{where}.calibration: strategy {run['strategy']!r} has no sequential test: conditional "
                          "to calibrate; remove the calibration or set strategies.<name>.sequential.test")
    if calibration and sequential.get("calibration"):
        raise ConfigError(f"{where}.calibration: strategy {run['strategy']!r} already names a calibration file; "
                          "keep one of the two")
    if calibration and calibration["split"] == from_dict(ExperimentSpec, run, where).split:
        raise ConfigError(f"{where}.calibration.split {calibration['split']!r} is the split the experiment "
                          "classifies: calibrate on other images (e.g. split: train)")
    if conditional and not calibration and not sequential.get("calibration"):
        raise ConfigError(f"{where}: strategy {run['strategy']!r} (sequential test: conditional) needs a "
                          "calibration: add calibration: {split: train, images: 20} to the experiment")


def _check_runnable_schedule(run: dict[str, Any], config: dict[str, Any], where: str) -> None:
    """The experiment's schedule on its model's timesteps and, where known, its dataset's classes."""
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
    """Prompt templates of the CLIP zero-shot datasets; Table 1's Diffusion Classifier runs are experiments."""
    baselines = config.get("baselines") or {}
    if baselines.get("zero_shot"):
        zero_shot = from_dict(ZeroShotSpec, baselines["zero_shot"], "baselines.zero_shot")
        for name in zero_shot.datasets:
            try:
                zero_shot.template(name)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    table1 = config.get("table1") or {}
    runs = {(r["dataset"], r["model"], r["strategy"]) for r in config["experiments"]}
    for name, run in table1.get("diffusion_classifier", {}).items():
        if (name, run["model"], run["strategy"]) not in runs:
            raise ConfigError(f"table1.diffusion_classifier.{name}: no experiment {{dataset: {name}, model: "
                              f"{run['model']}, strategy: {run['strategy']}}}; add it to 'experiments'")



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
    objectives = from_dict(ObjectivesSpec, section["objectives"], "supervised.objectives") \
        if "objectives" in section else ObjectivesSpec(runs=[])
    for i, run in enumerate(objectives.runs):
        scored_run(run["dataset"], run["model"], run["strategy"], f"supervised.objectives.runs[{i}]")
        stored = set(_stored_objectives(from_dict(StrategySpec, config["strategies"][run["strategy"]],
                                                  f"strategies.{run['strategy']}")))
        missing = sorted(set(objectives.objectives) - stored)
        if missing:
            raise ConfigError(f"supervised.objectives.runs[{i}]: strategy {run['strategy']!r} does not store "
                              f"{missing}; add them to its extra_objectives")
    if "schedules" in section:
        s = section["schedules"]
        schedules = from_dict(SchedulesSpec, s, "supervised.schedules")
        for strategy in [schedules.strategy, *schedules.direct]:
            scored_run(schedules.dataset, schedules.model, strategy, "supervised.schedules")
        for i, run in enumerate(schedules.sequential_runs):
            scored_run(run["dataset"], run["model"], run["strategy"], f"supervised.schedules.sequential_runs[{i}]")
        sequential = (s.get("study") or {}).get("sequential")
        if sequential:
            try:
                from_dict(SequentialStudySpec, sequential, "supervised.schedules.study.sequential").configs()
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        elif s.get("sequential_runs"):
            raise ConfigError("supervised.schedules.sequential_runs needs supervised.schedules.study.sequential "
                              "(the k curve to replay on them)")


    check_robustness_config(config)


# --- robustness study: zoo, shifts, fits ---------------------------------------------
def check_robustness_config(config: dict[str, Any]) -> None:
    """The robustness fits: diffusion rows are experiments, a reference is a zoo member, a line has 2 models."""
    zoo = config.get("zoo", {})
    zoo_models = zoo.get("models", {})
    runs = {(r["dataset"], r["model"], r["strategy"]) for r in config["experiments"]}
    for name, fit in config.get("robustness", {}).get("fits", {}).items():
        where = f"robustness.fits.{name}"
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
    _check_testbed_trend(config.get("robustness", {}))


def _check_testbed_trend(robustness: dict[str, Any]) -> None:
    """With ``robustness.trend.source: testbed`` every fit names known testbed columns and selection."""
    from .robustness.testbed import SELECTIONS, TESTBED_COLUMNS

    try:
        trend = from_dict(TrendSpec, robustness.get("trend"), "robustness.trend")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if trend.source != "testbed":
        return
    for name, fit in robustness.get("fits", {}).items():
        where = f"robustness.fits.{name}.testbed"
        if not fit.get("testbed"):
            raise ConfigError(f"{where} is missing: robustness.trend.source is testbed, so give "
                              "{id: <testbed column>, ood: <testbed column>, selection: standard|imagenet_a}")
        for key in ("id", "ood"):
            _known("testbed column", fit["testbed"][key], list(TESTBED_COLUMNS[2:]), f"{where}.{key}")
        _known("testbed selection", from_dict(TestbedColumnsSpec, fit["testbed"], where).selection,
               SELECTIONS.names(), f"{where}.selection")


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
        where = f"compositional[{i}]"
        if not adapter_uses_prompts(models[run["model"]]["adapter"]):
            raise ConfigError(f"{where}: model {run['model']!r} is not text-conditional; captions need one")
        if len(strategies[run["strategy"]]["evaluations"]) != 1:
            raise ConfigError(f"{where}: strategy {run['strategy']!r} has several stages; compositional runs "
                              "score both captions at the same timesteps: use a one-stage strategy")
    _check_table3(config)
    _check_digit_splits(datasets)


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
    if "collapsed_tag" not in from_dict(CompositionalSpec, runs[0], "compositional").group_by:
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
    """``baselines.synthetic`` / ``baselines.features``: valid sections whose model is text-conditional."""
    from .models import adapter_uses_prompts

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
# Parsing the workflow (and `snakemake -n`) imports this module; each fact is read from
# its one home, a torch-free module of the package.

#: Adapters conditioned on one prompt per class (the adapter registry's ``uses_prompts``).
PROMPT_ADAPTERS = frozenset(name for name in list_adapters() if adapter_uses_prompts(name))
#: The weight files of the audit's filters, as named in ``audit.weights_dir``.
AUDIT_WEIGHT_FILES = tuple(spec.filename for spec in WEIGHTS.values())
