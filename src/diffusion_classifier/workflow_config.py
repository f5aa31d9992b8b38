"""The whole workflow config: its model, and the checks a JSON schema cannot express.

:class:`WorkflowConfig` holds every section (the stages' sections are :mod:`.specs`'s); the
schema the workflow validates against (workflow/schemas/config.schema.yaml) is generated
from it by :mod:`.config_schema`, and catches misspelt keys, wrong types and values out of
range. The checks here catch dangling references (an experiment naming a model that is not
defined, a model neither trained nor loaded) and unknown registry names, before any
job starts.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Iterator, Literal

from pydantic import Field

from .audit.weights import WEIGHTS
from .config import ConfigError, Name, NonNegative, Positive, check_options, from_dict, one_of, optional_key, section, unfilled
from .engine.sequential import CONDITIONAL
from .models.registry import adapter_uses_prompts, list_adapters
from .models.released_prompts import AUTHORS_PROMPTS_URL
from .numerics import MODES
from .specs import (AuditSpec, ClipModelSpec, EvaluationSetting, FeatureSpec, ModelSpec, NoisePairingSpec,
                    RobustnessSpec, ScheduleStudySpec, ClassCountStudySpec, ScoringSpec, SequentialStudySpec, ShiftSpec, StrategySpec,
                    SyntheticSpec, TestbedColumnsSpec, TrendSpec, WinogroundBaselineSpec, ZeroShotSpec)

__all__ = ["check_config", "check_names", "check_references", "ConfigError", "REFERENCES", "Reference",
           "PROMPT_ADAPTERS", "AUTHORS_PROMPTS_URL", "AUDIT_WEIGHT_FILES", "WorkflowConfig", "DatasetSpec",
           "PromptTableSpec", "PromptTablesSpec", "RunSpec", "CalibrationSetSpec", "ExperimentSpec", "BaselinesSpec",
           "Table1Spec", "SupervisedSpec", "ObjectivesSpec", "SchedulesSpec", "CompositionalSpec", "ContrastiveSpec",
           "ZooSpec"]


# --- the whole workflow config ---------------------------------------------------------
# The sections without a stage of their own (the rules expand them into jobs and paths,
# workflow/rules/common.smk) and, with the stages' sections of .specs, WorkflowConfig: the
# source of workflow/schemas/config.schema.yaml (diffusion_classifier.config_schema).
@dataclass(frozen=True)
class PromptTableSpec:
    """``datasets.<name>.prompt_table``: the authors' released prompt table of a dataset.

    Fetched by rule fetch_prompt_table from ``prompt_tables.base_url/<file>``, checked against
    ``sha256``, and used instead of ``prompt_template`` for text-conditional models (classidx =
    label index; class names must agree up to case and punctuation).

    Attributes:
        file: File name in the release's prompts/ folder, e.g. pets_prompts.csv.
        sha256: sha256 of the released file; a download or local copy that differs is refused.
        identical_prompts: Groups of class indices allowed to share one prompt (the released
            ImageNet table has two such pairs); any other repeated prompt is a config error.
    """

    file: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+\.csv$")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    identical_prompts: list[Annotated[list[NonNegative], Field(min_length=2)]] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of ``datasets:``: how a dataset is obtained, and its prompts.

    Attributes:
        source: Name in the dataset registry (``diffusion-classifier list``).
        options: Keyword options of the registry entry (image size, split seed, ...).
        prompt_template: Zero-shot prompt of every class for text-conditional models, with one
            {} for the class name (paper Sec. 5.1: "a photo of a {}." for ImageNet, one per
            dataset). Needed when an experiment scores this dataset with a text-conditional
            model; ignored for caption-pair datasets (their captions are the prompts).
        prompt_class_names: Names put into prompt_template instead of classes.csv's names (same
            order and count), e.g. CLIP-style cleaned ImageNet names.
        prompt_table: The authors' released prompt table, used instead of prompt_template.
    """

    source: str
    options: dict = field(default_factory=dict)
    prompt_template: str | None = optional_key()
    prompt_class_names: list[str] | None = optional_key()
    prompt_table: PromptTableSpec | None = optional_key()


@dataclass(frozen=True)
class PromptTablesSpec:
    """``prompt_tables:``: where rule fetch_prompt_table gets the released prompt tables.

    Attributes:
        base_url: Folder URL (https:// or file://) holding the tables: the authors' release at
            the pinned commit, or a local mirror for offline runs.
        dir: Download cache; a file <dir>/<file> with the right sha256 is used without any
            network access (how an offline machine, or a test, provides a table).
    """

    base_url: str = unfilled(default=AUTHORS_PROMPTS_URL)
    dir: str = "data/raw/prompts"


@dataclass(frozen=True)
class RunSpec:
    """A scoring run named by its dataset, model and strategy (one of ``experiments``).

    Attributes:
        dataset: Dataset of the run.
        model: Model of the run.
        strategy: Strategy of the run.
    """

    dataset: str
    model: str
    strategy: str


@dataclass(frozen=True)
class CalibrationSetSpec:
    """``experiments[].calibration``: the calibration set of a sequential strategy with test conditional.

    Rules score_calibration and fit_calibration score the first ``images`` images of another
    ``split`` of the dataset at one stage on the strategy's grid.

    Attributes:
        split: Split the calibration images come from (not the experiment's).
        images: Calibration images.
    """

    split: Name
    images: Annotated[int, Field(ge=2)]


@dataclass(frozen=True)
class ExperimentSpec(RunSpec):
    """One entry of ``experiments:``: a scoring run of a dataset, a model and a strategy defined above.

    Attributes:
        split: Split of the dataset to classify.
        calibration: The calibration set of a sequential strategy with test conditional.
        opt_in: Scored only when an analysis reads it, its summary is named as a target, or
            ``snakemake opt_in`` builds every opt-in run; not a target of ``rule all`` nor a row
            of the classification, runtime and zero-shot tables.
    """

    split: Name = "test"
    calibration: CalibrationSetSpec | None = optional_key()
    opt_in: bool = False


@dataclass(frozen=True)
class BaselinesSpec:
    """``baselines:``: CLIP-style baselines (Tables 1 and 3) and Table 1's SD baselines.

    Attributes:
        clip_models: Image-text models by name.
        zero_shot: CLIP zero-shot classification with the Diffusion Classifier's prompts.
        winoground: CLIP similarities on Winoground (text, image and group scores).
        synthetic: Table 1 "Synthetic SD Data": images generated from the class prompts train
            a classifier tested on the real split.
        features: Table 1 "SD Features": a classifier on UNet mid-block maps at t=100.
    """

    clip_models: dict[Name, ClipModelSpec] = unfilled(default_factory=dict)
    zero_shot: ZeroShotSpec | None = optional_key()
    winoground: WinogroundBaselineSpec | None = optional_key()
    synthetic: SyntheticSpec | None = optional_key()
    features: FeatureSpec | None = optional_key()


@dataclass(frozen=True)
class Table1Cell:
    """The experiment whose summary fills a Diffusion Classifier cell of Table 1.

    Attributes:
        model: Model name of the experiment.
        strategy: Strategy name of the experiment.
    """

    model: str
    strategy: str


@dataclass(frozen=True)
class Table1Spec:
    """``table1:``: paper Table 1 (zero-shot accuracy per method and dataset).

    Attributes:
        datasets: Columns, in order.
        diffusion_classifier: Dataset -> the experiment whose summary fills its Diffusion
            Classifier cell.
    """

    datasets: Annotated[list[str], Field(min_length=1)]
    diffusion_classifier: dict[str, Table1Cell] = field(default_factory=dict)


@dataclass(frozen=True)
class TimestepStudySpec:
    """``supervised.timesteps``: Figures 3 and 4 (paper Sec. 4.1) from two stored runs.

    Attributes:
        dataset: Dataset of both runs.
        model: Model of both runs.
        even: One-stage strategy on the evenly spaced grid (Figure 3 and "Even N").
        repeats: One-stage strategy with explicit repeated timesteps (Figure 4's fixed sets).
        sets: Figure 4's fixed-set strategies, name -> timesteps (each on the repeats grid).
        loss: Objective that ranks classes.
    """

    dataset: str
    model: str
    even: str
    repeats: str
    sets: dict[str, Annotated[list[NonNegative], Field(min_length=1)]]
    loss: str = "l2"


@dataclass(frozen=True)
class PaperColumnSpec:
    """The column of the paper's Table 5 shown beside a run.

    Attributes:
        resolution: DiT-XL/2 resolution.
        dataset: Paper column.
    """

    resolution: Literal[256, 512] | None = optional_key()
    dataset: Literal["ImageNet", "ImageNetV2", "ImageNet-A", "ObjectNet"] | None = optional_key()


@dataclass(frozen=True)
class ObjectiveRunSpec(RunSpec):
    """A one-stage run of a learned-variance model that stores every objective of Table 5.

    Attributes:
        paper: Column of the paper's Table 5 shown beside this run.
    """

    paper: PaperColumnSpec | None = optional_key()


@dataclass(frozen=True)
class ObjectivesSpec:
    """``supervised.objectives``: Table 5 (paper Sec. 6.3.3).

    Attributes:
        runs: One-stage runs of a learned-variance model.
        objectives: Objective columns, each stored by every run (loss or extra_objectives).
    """

    runs: Annotated[list[ObjectiveRunSpec], Field(min_length=1)]
    objectives: list[str] = field(default_factory=lambda: ["l2", "vlb", "l2_vlb"])


@dataclass(frozen=True)
class SchedulesSpec(RunSpec):
    """``supervised.schedules``: the passes-vs-accuracy study of adaptive schedules replayed
    from one one-stage run (``strategy``).

    Attributes:
        direct: Adaptive strategies scored directly on the same grid, compared with their replay.
        sequential_runs: Further one-stage runs (each in experiments) on which
            study.sequential's curve is replayed beside this one.
        study: Which schedules are replayed.
        class_count: The class-count study of sequential elimination (10 to 1,000 classes, on a
            model known in closed form; it reads no run).
    """

    direct: list[str] = field(default_factory=list)
    sequential_runs: list[RunSpec] = field(default_factory=list)
    study: ScheduleStudySpec | None = optional_key()
    class_count: ClassCountStudySpec | None = optional_key()


@dataclass(frozen=True)
class SupervisedSpec:
    """``supervised:``: analyses of stored per-pair errors (no rescoring).

    Figures 3-4, Table 5 and the passes-vs-accuracy study; every run named here must be
    listed in experiments.

    Attributes:
        timesteps: Figures 3 and 4 (paper Sec. 4.1).
        objectives: Table 5 (paper Sec. 6.3.3).
        schedules: The passes-vs-accuracy study.
    """

    timesteps: TimestepStudySpec | None = optional_key()
    objectives: ObjectivesSpec | None = optional_key()
    schedules: SchedulesSpec | None = optional_key()


@dataclass(frozen=True)
class ZooSpec:
    """``zoo:``: the discriminative zoo of the robustness study (paper Sec. 6.3.1) and where it is evaluated.

    Attributes:
        members: Zoo models that enter the fits; default every model defined.
        settings: Evaluation settings by name (dataset, split, class restriction).
        models: Zoo classifiers by name.
    """

    members: list[str] | None = optional_key()
    settings: dict[Name, EvaluationSetting] = unfilled(default_factory=dict)
    # baselines.zoo imports torch: the schema generator alone imports it, parsing the workflow does not
    models: dict[Name, Annotated[dict, section("diffusion_classifier.baselines.zoo:ZooModelSpec")]] = \
        unfilled(default_factory=dict)


@dataclass(frozen=True)
class CompositionalSpec(RunSpec):
    """One entry of ``compositional:``: a Winoground-style run (paper Table 3).

    A caption-pair dataset (examples.csv), a text-conditional model and a one-stage strategy
    (the paper: all 1000 timesteps, l2); each image is scored against its example's two captions.

    Attributes:
        split: Split whose examples are scored.
        group_by: Example fields the scores are broken down by besides the overall score.
    """

    split: Name = "test"
    group_by: list[str] = field(default_factory=lambda: ["collapsed_tag"])


@dataclass(frozen=True)
class ContrastiveSpec:
    """``contrastive:``: the contrastive (CLIP-analogue) baseline of the compositional table.

    Trained on the captioned corpus of a caption-pair dataset and scored on its examples like
    the compositional runs (rule evaluate_contrastive).

    Attributes:
        dataset: A caption-pair dataset with a captions.csv corpus (digit_captions).
        split: Split whose examples are scored.
        group_by: Example fields the scores are broken down by besides the overall score.
        train: Training settings (baselines.contrastive.ContrastiveConfig: steps, batch_size, ...).
    """

    dataset: str
    split: str = "test"
    group_by: list[str] = field(default_factory=lambda: ["collapsed_tag"])
    train: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WorkflowConfig:
    """Configuration of the Diffusion Classifier reproduction.

    The same keys serve the embedded default (config/mini.yaml) and the paper-scale run
    (config/paper.yaml); the workflow validates a config against the schema generated from
    this class (:mod:`diffusion_classifier.config_schema`) before it builds a job.

    Attributes:
        datasets: Datasets by name; each says how it is obtained.
        models: Diffusion models by name.
        strategies: Evaluation schedules by name (Algorithm 2's TrialList / KeepList and loss).
        experiments: The scoring runs; each names a dataset, a model and a strategy defined above.
        results: Directory every rule writes under. Any path (spaces included: every rule
            quotes it) except braces, which Snakemake reads as wildcards, and control characters.
        threads: Threads of each torch job (torch jobs never share cores). With portable
            numerics the bytes of a result depend on it: keep it fixed to regenerate a run exactly.
        numerics: CPU numerics of every job (:mod:`diffusion_classifier.numerics`). portable:
            every library capped at AVX2, MKL's reproducible branch, deterministic algorithms,
            fixed forward shapes, so any x86-64 machine with AVX2 computes the same bytes;
            native: each library's fastest kernels for this CPU (the same bytes only on the same
            kind of machine). Recorded in every artifact's provenance and in the scoring run keys.
        prompt_tables: Where rule fetch_prompt_table gets the released prompt tables.
        scoring: Settings shared by every scoring job.
        audit: LAION-filter audit of SD 2.0's training filters on test sets (paper Table 2).
        baselines: CLIP-style baselines (Table 1's zero-shot rows, Table 3's Winoground rows)
            and Table 1's SD baselines.
        table1: Paper Table 1 (zero-shot accuracy per method and dataset).
        table3: Paper Table 3 (Winoground text score by swap type): the compositional run
            (grouped by collapsed_tag) whose summary fills the Diffusion Classifier row; the
            CLIP rows are baselines.winoground.models.
        noise_pairing: Paper Figure 2 (Sec. 3.3): one image's error at every t for fixed
            noises and two classes.
        supervised: Analyses of stored per-pair errors: Figures 3-4, Table 5, the
            passes-vs-accuracy study.
        zoo: The discriminative zoo of the robustness study (paper Sec. 6.3.1).
        shifts: Datasets derived from a prepared dataset by rule build_shift (each also
            listed in datasets).
        robustness: Effective-robustness fits (Taori et al. 2020; paper Fig. 6).
        compositional: Winoground-style runs (paper Table 3).
        contrastive: The contrastive baseline of the compositional table.
    """

    datasets: Annotated[dict[Name, DatasetSpec], Field(min_length=1)]
    models: Annotated[dict[Name, ModelSpec], Field(min_length=1)]
    strategies: Annotated[dict[Name, StrategySpec], Field(min_length=1)]
    experiments: Annotated[list[ExperimentSpec], Field(min_length=1)]
    results: Annotated[str, Field(pattern=r"^[^{}\n\r\t\x00]+$")] = "results"
    threads: Positive = 2
    numerics: Annotated[str, one_of(MODES)] = MODES[0]
    prompt_tables: PromptTablesSpec | None = optional_key()
    scoring: ScoringSpec | None = optional_key()
    audit: AuditSpec | None = optional_key()
    baselines: BaselinesSpec | None = optional_key()
    table1: Table1Spec | None = optional_key()
    table3: RunSpec | None = optional_key()
    noise_pairing: NoisePairingSpec | None = optional_key()
    supervised: SupervisedSpec | None = optional_key()
    zoo: ZooSpec | None = optional_key()
    shifts: dict[Name, ShiftSpec] | None = optional_key()
    robustness: RobustnessSpec | None = optional_key()
    compositional: list[CompositionalSpec] = field(default_factory=list)
    contrastive: ContrastiveSpec | None = optional_key()


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
    _check_library_settings(config)  # types and ranges first: the checks below read these values
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


def _check_library_settings(config: dict[str, Any]) -> None:
    """The sections the schema leaves open because their keys are a library's, checked
    against it: a dataset source's ``options`` (its prepare function's keywords), a trained
    model's ``train`` and the contrastive baseline's ``train`` (their training dataclasses):
    unknown keys, and values of the wrong type or out of range, name the key."""
    from .baselines.contrastive import ContrastiveConfig
    from .data import get_dataset
    from .models.text_training import TextTrainConfig
    from .models.architectures import ARCHITECTURES
    from .models.training import TrainConfig

    for name, spec in config["datasets"].items():
        check_options(get_dataset(spec["source"]).prepare, spec.get("options"), f"datasets.{name}.options")
    for name, spec in config["models"].items():
        if spec.get("train") is not None:
            train_config = TextTrainConfig if adapter_uses_prompts(spec["adapter"]) else TrainConfig
            train = from_dict(train_config, spec["train"], f"models.{name}.train")
            if train.architecture in ARCHITECTURES:
                check_options(ARCHITECTURES.get(train.architecture), train.architecture_kwargs,
                              f"models.{name}.train.architecture_kwargs", skip=0)
    if config.get("contrastive"):
        from_dict(ContrastiveConfig, config["contrastive"].get("train"), "contrastive.train")


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
            restrict = row.get("id_classes_from")
            if restrict is not None and restrict not in config.get("datasets", {}):
                raise ConfigError(f"{where}.diffusion[{i}].id_classes_from {restrict!r} is not among datasets "
                                  f"{sorted(config.get('datasets', {}))}")
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
    from .models.prompt_checks import PromptTableError
    from .models.prompts import PromptSpec

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
    from .models.prompt_checks import PromptTableError, check_identical_prompts
    from .models.prompts import PromptSpec

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
    for key, spec_cls in (("synthetic", SyntheticSpec), ("features", FeatureSpec)):
        if not baselines.get(key):
            continue
        where = f"baselines.{key}"
        try:
            spec = from_dict(spec_cls, baselines[key], where)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not adapter_uses_prompts(config["models"][spec.model]["adapter"]):
            raise ConfigError(f"{where}.model: {spec.model!r} is not text-conditional; the baseline needs a "
                              "Stable-Diffusion-style model (adapter stable_diffusion)")
        if key == "features":
            for line in feature_sizes(config, spec):
                print(line, file=sys.stderr)


#: SD-2's UNet mid block: 1280 channels at 1/64 of the image side (baselines.sd_features).
SD_MID_BLOCK_CHANNELS, SD_MID_BLOCK_STRIDE = 1280, 64


def feature_sizes(config: dict[str, Any], spec: FeatureSpec) -> list[str]:
    """One line per training set of SD Features whose size is known: its maps' size in fp16 and
    whether they are held in memory or streamed (``shard_size``); printed when the config is checked."""
    from .data.imagenet import IMAGENET_TRAIN_IMAGES

    model = config["models"][spec.model]
    if model["adapter"] != "stable_diffusion":
        return []
    side = max(1, int(model["image"]["size"]) // SD_MID_BLOCK_STRIDE)
    per_map = SD_MID_BLOCK_CHANNELS * side * side * 2
    lines = []
    for name in sorted(set(spec.train_from.values()) | {d for d in spec.datasets if "train" in spec.splits_of(d)}):
        dataset = config["datasets"].get(name, {})
        options = dataset.get("options") or {}
        images = options.get("subset_size") or (IMAGENET_TRAIN_IMAGES if dataset.get("source") == "imagenet_train"
                                                else None)
        if images is None:
            continue
        how = (f"written and streamed in shards of {spec.shard_size:,}" if spec.shard_size
               else "held in memory to train (baselines.features.shard_size streams them)")
        lines.append(f"baselines.features: {name}'s train maps: {images:,} x {SD_MID_BLOCK_CHANNELS}x{side}x{side} "
                     f"fp16 = {images * per_map / 1e9:,.1f} GB, {how}")
    return lines


# --- registry facts the Snakefile reads without importing torch ------------------------
# Parsing the workflow (and `snakemake -n`) imports this module; each fact is read from
# its one home, a torch-free module of the package.

#: Adapters conditioned on one prompt per class (the adapter registry's ``uses_prompts``).
PROMPT_ADAPTERS = frozenset(name for name in list_adapters() if adapter_uses_prompts(name))
#: The weight files of the audit's filters, as named in ``audit.weights_dir``.
AUDIT_WEIGHT_FILES = tuple(spec.filename for spec in WEIGHTS.values())
