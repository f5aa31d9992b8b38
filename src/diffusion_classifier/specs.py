"""Typed, validated views of the config sections a stage receives: one home for all of them.

(:func:`from_dict`, :func:`resolve_device` and :func:`resolve_dtype` are
:mod:`.config`'s, imported here for the stages that take them from this module.)

These dataclasses, with the rules' own sections and
:class:`~.workflow_config.WorkflowConfig` at the top, are the one home of every key, type,
default, range and description of the workflow config:
``workflow/schemas/config.schema.yaml`` is generated from them
(:mod:`diffusion_classifier.config_schema`; constraints in the annotations, descriptions in
the ``Attributes:``). The workflow validates the whole config against it at start
(Snakemake fills the defaults into the config the rules read); each stage then turns its
section into a frozen dataclass here, so a misspelt key fails with the list of known keys
even when a stage is called by hand.

Nested settings that belong to a library keep their dataclass there and are built from
these sections' dicts: :class:`~.engine.sequential.SequentialConfig`,
:class:`~.engine.acceleration.Acceleration`, :class:`~.audit.config.AuditConfig`,
:class:`~.baselines.zoo.ZooImage`, :class:`~.baselines.zoo_training.ZooTrainConfig`; and so
does a ``zoo.models`` entry, :class:`~.baselines.zoo.ZooModelSpec`, which is checked against
the zoo's registry of weight sources (this module imports nothing of ``baselines``, which
imports it).

Torch-free at import (tests/test_imports.py): the methods that need the engine or a
registry with torch import it when called.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from .config import (DTYPES, Device, Name, NonNegative, Positive, from_dict, one_of, optional_key, resolve_device,
                     resolve_dtype, section, unfilled)
from .audit.config import AuditConfig
from .data.transforms import ImageTransform
from .engine.acceleration import Acceleration
from .engine.batching import AUTO, BATCH_SIZE
from .engine.schedule import Schedule
from .engine.sequential import CONDITIONAL, SequentialConfig

if TYPE_CHECKING:
    from .engine.scoring import ScoringConfig

__all__ = ["ModelSpec", "StrategySpec", "ScoringSpec", "from_dict", "resolve_device", "resolve_dtype",
           "NoisePairingSpec", "ScheduleStudySpec", "SequentialStudySpec", "ClassCountStudySpec",
           "ClassCountScheduleSpec", "AuditSpec", "ZeroShotSpec",
           "WinogroundBaselineSpec", "ClipModelSpec", "SyntheticSpec", "FeatureSpec",
           "EvaluationSetting", "ShiftSpec", "DiffusionRowSpec", "TestbedColumnsSpec", "TrendSpec", "FitSpec",
           "RobustnessSpec", "ScheduleSpec"]

@dataclass(frozen=True)
class ModelSpec:
    """One entry of ``models:``.

    Attributes:
        adapter: Name in the adapter registry (``class_conditional``, ...).
        checkpoint: Hub id or local directory; ``None`` when the pipeline trains it.
        image: Input size, channels and resampling the model expects.
        dtype: Weights dtype on an accelerator (``float32`` on the CPU).
        train: Training settings when the pipeline trains the model itself.
        train_dataset: Dataset the model is trained on (when ``train`` is given).
    """

    adapter: str
    image: Annotated[dict, section(ImageTransform)] = unfilled(
        default_factory=lambda: {"size": 16, "channels": 1, "resample": "bilinear"})
    checkpoint: str | None = None
    dtype: Annotated[str, one_of(DTYPES)] = "float32"
    train: dict | None = optional_key()
    train_dataset: str | None = optional_key()

    @property
    def transform(self) -> ImageTransform:
        return from_dict(ImageTransform, self.image, "model image settings")

    def load(self, checkpoint: str, device: str = "auto"):
        """The model as a :class:`~diffusion_classifier.engine.predictor.NoisePredictor` on ``device``
        (``auto``: CUDA when present), in ``dtype`` on an accelerator and float32 on the CPU."""
        from .models import load_predictor

        resolved = resolve_device(device)
        return load_predictor(self.adapter, checkpoint, device=resolved, dtype=resolve_dtype(self.dtype, resolved))


#: Rows of the authors' noise file (``scripts/save_noise.py``: ``torch.randn(1024, 4, size // 8, size // 8)``).
RELEASED_NOISE_ROWS = 1024


@dataclass(frozen=True)
class StrategySpec:
    """One entry of ``strategies:``: an evaluation schedule and its loss.

    Attributes:
        evaluations: Evaluations per class by the end of each stage (Algorithm 2's TrialList).
        keep: Classes kept after each stage (KeepList); the last is 1.
        loss: Objective that ranks the classes.
        extra_objectives: Further objectives stored per pair from the same passes.
        timesteps: Explicit grid replacing the evenly spaced one, each timestep repeated with
            ``noises_per_timestep`` different noises (round-robin order); len x noises must
            equal the last ``evaluations`` entry.
        noises_per_timestep: Noise draws per listed timestep (only with ``timesteps``).
        share_noise_across_images: One noise set for every image (DiT setup) or one per
            image; overrides ``scoring.share_noise_across_images`` for this strategy when set.
        noise_seed: The seed of one noise set shared by every image, drawn as the authors'
            release draws it, so per-image errors pair with theirs: ``scripts/save_noise.py``
            runs ``torch.manual_seed(seed); torch.randn(1024, C, H, W)`` on the CPU, and with
            ``--randomize_noise`` (``eval_prob_dit.py``, ``run_winoground.py``) the j-th timestep
            in ascending order takes row j. The engine's draw (:func:`~diffusion_classifier.engine.draw_noise`:
            a CPU generator seeded ``seed``, one row per grid point, ascending t) gives the same
            tensors for a grid of up to 1,024 points (a test checks it). The release uses 42;
            ``None``: the seed of the ``scoring`` section (shared, or per image).
        sequential: Sequential elimination (beyond the paper) on the one-stage grid of
            ``evaluations: [N]`` instead of fixed stages (:mod:`diffusion_classifier.engine.sequential`).
    """

    evaluations: Annotated[list[Positive], Field(min_length=1)]
    keep: list[Positive] = field(default_factory=lambda: [1])
    loss: Literal["l2", "l1", "huber"] = "l2"
    extra_objectives: list[str] = field(default_factory=list)
    timesteps: list[NonNegative] = field(default_factory=list)
    noises_per_timestep: Positive = 1
    share_noise_across_images: bool | None = None
    noise_seed: NonNegative | None = optional_key()
    sequential: Annotated[dict, section(SequentialConfig)] | None = optional_key()

    def __post_init__(self) -> None:
        if self.noise_seed is not None and self.share_noise_across_images is False:
            raise ValueError("noise_seed draws one noise set shared by every image (the authors' noise file); "
                             "it cannot be combined with share_noise_across_images: false")
        if self.noise_seed is not None and self.evaluations[-1] > RELEASED_NOISE_ROWS:
            raise ValueError(f"noise_seed follows the authors' noise file of {RELEASED_NOISE_ROWS} rows; this "
                             f"strategy's grid has {self.evaluations[-1]} points")

    def schedule(self, num_train_timesteps: int = 1000) -> Schedule:
        if self.noises_per_timestep < 1:
            raise ValueError(f"noises_per_timestep must be positive, got {self.noises_per_timestep}")
        grid = tuple(t for _ in range(self.noises_per_timestep) for t in self.timesteps)
        return Schedule(tuple(self.evaluations), tuple(self.keep), num_train_timesteps, grid)

    def scoring_config(self, num_train_timesteps: int, batch_size: int | str,
                       acceleration: Acceleration = Acceleration(), device: str | None = None) -> ScoringConfig:
        """The engine's config of this strategy, for a model on ``device`` (its forward shape
        follows the numerics in force there: :func:`diffusion_classifier.numerics.forward_rows`)."""
        from . import numerics
        from .engine.scoring import ScoringConfig  # the scoring engine (torch): only where a run is set up

        return ScoringConfig(
            schedule=self.schedule(num_train_timesteps),
            loss=self.loss,
            extra_objectives=tuple(self.extra_objectives),
            batch_size=batch_size,
            sequential=None if self.sequential is None
            else from_dict(SequentialConfig, self.sequential, "strategy.sequential"),
            acceleration=acceleration,
            forward_rows=None if device is None else numerics.forward_rows(device),
        )


@dataclass(frozen=True)
class ScoringSpec:
    """The ``scoring:`` section.

    Attributes:
        seed: Global seed; each image's noise seed derives from it and the image id.
        share_noise_across_images: Use the global seed for every image (DiT setup:
            one fixed noise per timestep shared across classes *and* images).
        batch_size: Noise-predictor inputs per forward pass, or ``auto`` (sized from free
            device memory: :mod:`diffusion_classifier.engine.batching`).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ...
        checkpoint_every: Images between checkpoints of a running shard.
        checkpoint_seconds: Seconds between checkpoints of a running shard, whichever
            of the two comes first (at paper scale 20 images can be hours of work).
        shards: Scoring jobs per dataset x model x strategy.
        pack_images: Images scored together, network batches packed across them
            (:func:`diffusion_classifier.engine.scoring.classify_packed`); 1: one image at a time.
        acceleration: GPU speed switches (:class:`~diffusion_classifier.engine.acceleration.Acceleration`);
            all off by default.
    """

    seed: int = 0
    share_noise_across_images: bool = False
    batch_size: Positive | Annotated[str, one_of([AUTO])] = BATCH_SIZE
    device: Device = "auto"
    checkpoint_every: Positive = 50
    checkpoint_seconds: Annotated[float, Field(gt=0)] = 300
    shards: Positive = 1
    pack_images: Positive = 1
    acceleration: Annotated[dict, section(Acceleration)] = unfilled(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.pack_images, bool) or not isinstance(self.pack_images, int) or self.pack_images < 1:
            raise ValueError(f"scoring.pack_images must be a positive number of images, got {self.pack_images!r}")

    @property
    def accelerations(self) -> Acceleration:
        return from_dict(Acceleration, self.acceleration, "scoring.acceleration")

    def shares_noise(self, strategy: "StrategySpec") -> bool:
        """Whether every image gets the same noise: the strategy's choice, else this section's."""
        if strategy.noise_seed is not None:
            return True
        return self.share_noise_across_images if strategy.share_noise_across_images is None \
            else strategy.share_noise_across_images

    def noise_seed(self, image_id: str, strategy: "StrategySpec") -> int:
        """The seed of an image's noise: the strategy's released seed, else the global seed if
        shared, else one derived from the id."""
        from .engine.seeding import image_seed

        if strategy.noise_seed is not None:
            return strategy.noise_seed
        return self.seed if self.shares_noise(strategy) else image_seed(self.seed, image_id)


# --- Figure 2 and the stored-error studies (Sec. 4.1, beyond the paper) ----------------
@dataclass(frozen=True)
class NoisePairingSpec:
    """The ``noise_pairing`` section: which image, which two classes, how many noises.

    Attributes:
        dataset: Dataset (of ``datasets``) the image comes from.
        model: Model (of ``models``) that scores it.
        classes: Two class names: the image's own class first, then a confusable one.
        image: Image id; default the first image (by id) of ``classes[0]`` in ``split``.
        split: Split the image is taken from.
        noises: Fixed noises eps_i, one panel each (the paper: 4).
        evaluations: Evenly spaced timesteps (1000 on a 1000-step model: every t).
        seed: Seed of the noises.
        batch_size: Noise-predictor inputs per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
    """

    dataset: str
    model: str
    classes: Annotated[list[str], Field(min_length=2, max_length=2)]
    image: str | None = None
    split: Name = "test"
    noises: Annotated[int, Field(ge=2)] = 4
    evaluations: Positive = 1000
    seed: int = 0
    batch_size: Positive = 250
    device: Device = "auto"

    def __post_init__(self) -> None:
        if len(self.classes) != 2:
            raise ValueError(f"noise_pairing.classes needs two class names (own, other), got {self.classes}")
        if self.noises < 2:
            raise ValueError(f"noise_pairing.noises must be at least 2 to measure a spread, got {self.noises}")


@dataclass(frozen=True)
class ScheduleStudySpec:
    """Which schedules the passes-vs-accuracy study replays.

    Attributes:
        loss: The objective that ranks classes.
        two_stage_evaluations: First-stage TrialList entries n of the (n, grid) x (k, 1) product.
        two_stage_keep: First-stage KeepList entries k of that product.
        schedules: Further ``{evaluations, keep}`` schedules ending on the stored grid.
        sequential: The sequential strategy's curve (:class:`SequentialStudySpec` fields);
            empty: none.
    """

    loss: str = "l2"
    two_stage_evaluations: list[Positive] = field(default_factory=list)
    two_stage_keep: list[Positive] = field(default_factory=list)
    schedules: list[Annotated[dict, section(ScheduleSpec)]] = field(default_factory=list)
    sequential: Annotated[dict, section(SequentialStudySpec)] = unfilled(default_factory=dict)


@dataclass(frozen=True)
class SequentialStudySpec:
    """Which sequential strategies the study replays, and what they are measured against.

    Attributes:
        k: Thresholds (standard errors) of the curve, one replay each.
        block: Grid points per block.
        min_points: Points before any class may be dropped.
        reference: The paper-style adaptive schedule ``{evaluations, keep}`` on the stored
            grid whose passes the goal halves; ``None``: compare with one stage only.
        test, pool, first: The test's options (:class:`SequentialConfig`; off by default).
        calibration_images: ``test: conditional``: images of the other half of the stored
            run that each half's calibration is fitted on (``None``: the whole other half;
            :func:`~diffusion_classifier.engine.replay.cross_fitted_replay`). A direct
            run would score as many extra images at one stage's cost, once.
    """

    k: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = unfilled(
        default_factory=lambda: [1.0, 2.0, 3.0])
    block: Positive = 5
    min_points: Positive = 5
    reference: Annotated[dict, section(ScheduleSpec)] | None = optional_key()
    test: Literal["mean", "grid", "conditional"] = "mean"
    pool: Annotated[float, Field(ge=0)] = 0
    first: Annotated[list[NonNegative], Field(min_length=2, max_length=2)] | None = optional_key()
    calibration_images: Annotated[int, Field(ge=2)] | None = 20

    def configs(self) -> list[SequentialConfig]:
        return [SequentialConfig(block=self.block, k=float(k), min_points=self.min_points, test=self.test,
                                 pool=self.pool, first=None if self.first is None else tuple(self.first))
                for k in self.k]

    def reference_schedule(self, base: Schedule) -> Schedule | None:
        if self.reference is None:
            return None
        evaluations, keep = tuple(self.reference["evaluations"]), tuple(self.reference.get("keep", [1]))
        if max(evaluations) != len(base.grid):
            raise ValueError(f"sequential.reference {self.reference}: its largest TrialList entry must be the "
                             f"stored grid size {len(base.grid)}")
        return Schedule(evaluations, keep, base.num_train_timesteps, base.timesteps)


@dataclass(frozen=True)
class ClassCountScheduleSpec:
    """One class count of the class-count study and the paper's adaptive schedule for it.

    Attributes:
        classes: Classes of the model.
        evaluations: TrialList; its last entry is the one-stage grid scored.
        keep: KeepList; the last is 1.
    """

    classes: Annotated[int, Field(ge=2)]
    evaluations: Annotated[list[Positive], Field(min_length=1)]
    keep: list[Positive] = unfilled(default_factory=lambda: [1])


@dataclass(frozen=True)
class ClassCountStudySpec:
    """The class-count study (beyond the paper): does sequential elimination keep its savings
    and its agreement with one stage at 1,000 classes? On a Gaussian class-conditional model
    whose noise prediction is exact (:mod:`~diffusion_classifier.reporting.class_count_study`),
    scored one stage on the grid of each class count's adaptive schedule and replayed.

    Attributes:
        schedules: One per class count: ``{classes, evaluations, keep}``, the paper's adaptive
            schedule for a dataset of that many classes; its last TrialList entry is the grid.
        bayes_accuracy: The nearest-mean (Bayes) accuracies each class count's spreads are
            chosen for, easy to hard.
        images: Images per class count and spread (each half of them calibrates the other's test).
        k: Thresholds of the sequential test (``test: conditional``), one replay each.
        block: Grid points per test.
        calibration_images: Images of the other half each half's calibration is fitted on.
        shape: An image's shape ``[C, H, W]``.
        seed: Seed of the class means and images.
        batch_size: Noise-predictor inputs per forward pass.
    """

    schedules: Annotated[list[Annotated[dict, section(ClassCountScheduleSpec)]], Field(min_length=1)]
    bayes_accuracy: Annotated[list[Annotated[float, Field(gt=0, lt=1)]], Field(min_length=1)] = unfilled(
        default_factory=lambda: [0.95, 0.7, 0.45])
    images: Annotated[int, Field(ge=4)] = 20
    k: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = unfilled(
        default_factory=lambda: [2.0, 3.0, 4.0])
    block: Positive = 10
    calibration_images: Annotated[int, Field(ge=2)] = 20
    shape: Annotated[list[Positive], Field(min_length=3, max_length=3)] = unfilled(
        default_factory=lambda: [1, 8, 8])
    seed: int = 0
    batch_size: Positive = 50000

    def configs(self) -> list[SequentialConfig]:
        return [SequentialConfig(block=self.block, k=float(k), min_points=1, test=CONDITIONAL) for k in self.k]


# ---------------------------------------------------------------------------------------
# LAION-filter audit (Table 2) and CLIP baselines (Tables 1 and 3).
@dataclass(frozen=True)
class AuditSpec:
    """The ``audit:`` section (LAION-filter audit, paper Table 2).

    Attributes:
        datasets: Datasets whose ``split`` is audited.
        split: Manifest split audited (the test sets of the paper).
        weights_dir: Directory that may hold the filter-weight files (names as in
            ``audit.weights``); a missing file makes its filter "n/a".
        sha256: Filter name (``aesthetic``, ``nsfw``) -> digest its file must have.
        clip_checkpoint: open_clip ``pretrained`` of the ViT-L/14 embedder: ``openai``
            (downloads once) or a local checkpoint path.
        clip_cache_dir: open_clip's download cache.
        thresholds: ``min_side``, ``aesthetic_threshold``, ``punsafe_threshold``
            (``audit.AuditConfig``; SD 2.0's values by default).
        batch_size: Images decoded and embedded per step.
        device: ``auto``, ``cpu``, ``cuda``, ...
        required: Fail instead of reporting n/a when a filter cannot be computed.
    """

    datasets: Annotated[list[str], Field(min_length=1)]
    split: Name = "test"
    weights_dir: str = "weights/laion_filters"
    sha256: dict[str, Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]] = field(default_factory=dict)
    clip_checkpoint: str = "openai"
    clip_cache_dir: str | None = None
    thresholds: Annotated[dict[str, float], section("diffusion_classifier.audit.config:FilterThresholds")] = \
        unfilled(default_factory=dict)
    batch_size: Positive = AuditConfig.batch_size
    device: Device = "auto"
    required: bool = False

    def audit_config(self) -> AuditConfig:
        """The audit library's frozen config with these thresholds."""
        return from_dict(AuditConfig, {**self.thresholds, "batch_size": self.batch_size}, "audit.thresholds")


@dataclass(frozen=True)
class ZeroShotSpec:
    """``baselines.zero_shot``: CLIP-style zero-shot runs (paper Table 1).

    Attributes:
        models: Names in ``baselines.clip_models``.
        datasets: Datasets classified.
        split: Manifest split classified.
        prompt_templates: Dataset -> template with one ``{}``; datasets of the paper
            default to its CLIP template (``data.paper_settings``).
        batch_size: Images per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ...
    """

    models: list[str]
    datasets: list[str]
    split: Name = "test"
    prompt_templates: dict[str, str] = field(default_factory=dict)
    batch_size: Positive = 64
    device: Device = "auto"

    def template(self, dataset: str) -> str:
        """The prompt template of ``dataset``: configured, else the paper's."""
        if dataset in self.prompt_templates:
            return self.prompt_templates[dataset]
        from .data.paper_settings import PAPER_SETTINGS

        paper = PAPER_SETTINGS.get(dataset)
        if paper is None or paper.prompt_template is None:
            raise ValueError(f"baselines.zero_shot: no prompt template for dataset {dataset!r}; add "
                             f"prompt_templates: {{{dataset}: 'a photo of a {{}}.'}} (paper datasets have one)")
        return paper.prompt_template


@dataclass(frozen=True)
class WinogroundBaselineSpec:
    """``baselines.winoground``: CLIP-style similarities on Winoground (paper Table 3).

    Attributes:
        models: Names in ``baselines.clip_models``.
        dataset: A caption-pair dataset of ``datasets`` (Winoground); its prepared
            directory holds ``examples.csv`` whose ``image_0`` / ``image_1`` are image
            ids of its manifest (:mod:`.data.pairs`).
        batch_size: Examples per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ...
    """

    models: list[str]
    dataset: str
    batch_size: Positive = 16
    device: Device = "auto"


@dataclass(frozen=True)
class ClipModelSpec:
    """One entry of ``baselines.clip_models``.

    Attributes:
        architecture: open_clip model name (``RN50``, ``ViT-L-14``, ``ViT-H-14``).
        pretrained: open_clip pretrained tag (``openai``, ``laion2b_s32b_b79k``): which
            published weights the baseline means.
        label: Name shown in tables ("CLIP ResNet-50").
        backend: Name in the backend registry.
        checkpoint: Local weights file; used instead of a download when present.
        sha256: Expected digest of ``checkpoint``; a mismatch refuses to run.
        allow_download: Let the backend fetch ``pretrained`` (or use its cache) when no
            local checkpoint exists. Off in the embedded default: no network.
        quick_gelu: Build the model with QuickGELU (OpenAI's weights were trained with it;
            needed when loading OpenAI weights from a local file).
        cache_dir: Backend download cache.
        required: Fail instead of reporting "n/a" when the model cannot be loaded.
        table1_row: Key of the Table 1 row this model fills (``clip_rn50``, ...), if any.
    """

    architecture: str
    pretrained: str
    label: str = unfilled(default="")
    backend: str = "open_clip"
    checkpoint: str | None = None
    sha256: str | None = None
    allow_download: bool = False
    quick_gelu: bool = False
    cache_dir: str | None = None
    required: bool = False
    table1_row: str | None = None

    @property
    def model_id(self) -> str:
        return f"{self.backend}:{self.architecture}/{self.pretrained}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- Table 1: Synthetic SD Data and SD Features ----------------------------------------
@dataclass(frozen=True)
class SyntheticSpec:
    """The ``baselines.synthetic`` section.

    Attributes:
        model: Text-conditional model (name in ``models``) that generates.
        datasets: Real datasets whose classes are generated and whose test split scores
            the classifier (Table 1 columns).
        images_per_class: Generated images per class.
        steps: DDIM sampling steps (the paper's setting: 50).
        guidance_scale: Classifier-free guidance weight; 1 samples unguided (no empty-prompt pass).
        negative_prompt: The unconditional prompt of guidance ("" for SD).
        seed: Run seed every image seed is hashed from.
        batch_size: Images sampled together.
        shards: Generation shards (each a job).
        size: Output image side; ``None``: the model's native resolution.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        classifier: Zoo entry (:class:`~.baselines.zoo.ZooModelSpec` fields) trained on the
            synthetic images; ``num_classes`` is taken from the dataset.
        evaluation_split: Split of the real dataset the classifier is tested on.
        batch_size_eval: Images per evaluation forward pass.
    """

    model: str
    datasets: Annotated[tuple[str, ...], Field(min_length=1)]
    classifier: Annotated[dict, section("diffusion_classifier.baselines.zoo:ZooModelSpec")]
    images_per_class: Positive = 10
    steps: Positive = 50
    guidance_scale: Annotated[float, Field(ge=1)] = 1.0
    negative_prompt: str = ""
    seed: int = 0
    batch_size: Positive = 16
    shards: Positive = 1
    size: Positive | None = None
    device: Device = "auto"
    evaluation_split: Name = "test"
    batch_size_eval: Positive = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", tuple(self.datasets))
        if self.images_per_class < 1 or self.steps < 1 or self.shards < 1 or self.batch_size < 1:
            raise ValueError("baselines.synthetic: images_per_class, steps, shards and batch_size must be >= 1")
        if self.guidance_scale < 1.0:
            raise ValueError(f"baselines.synthetic.guidance_scale must be >= 1 (1 = unguided), got "
                             f"{self.guidance_scale}")

    @property
    def guided(self) -> bool:
        return self.guidance_scale > 1.0


@dataclass(frozen=True)
class FeatureSpec:
    """The ``baselines.features`` section.

    Attributes:
        model: Text-conditional model (name in ``models``) whose UNet is read.
        datasets: Labelled datasets (train split to fit, ``evaluation_split`` to test).
        classifier: Zoo entry trained on the maps; ``kwargs.in_chans`` and
            ``num_classes`` are filled from the features and the dataset.
        timestep: Noise level of the single forward pass (paper: 100).
        prompt: Class-agnostic prompt whose embedding conditions the pass ("").
        seed: Run seed the per-image noise seeds are hashed from.
        batch_size: Images per UNet pass.
        splits: Splits whose features are extracted.
        evaluation_split: Split the classifier is tested on.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        train_from: Column -> dataset whose ``train`` split trains that column's
            classifier, for a column without a train split of its own (ImageNet's 2,000
            validation images learn from ImageNet train).
        classifier_from: Column -> another column whose trained classifier evaluates it
            through its class map (ObjectNet: the ImageNet classifier, a prediction right
            when its ImageNet class is among the ObjectNet class's ids).
        shard_size: Maps per file: each split is written as ``features-NNNNN.safetensors``
            shards as it is extracted, and the classifier trains by streaming them (shard
            order and the images within a shard shuffled every epoch), one shard in memory
            at a time; for ImageNet's full training set (1.28M maps, ~210 GB in fp16).
            ``None``: one file per split, held in memory to train.
    """

    model: str
    datasets: Annotated[tuple[str, ...], Field(min_length=1)]
    classifier: Annotated[dict, section("diffusion_classifier.baselines.zoo:ZooModelSpec")]
    timestep: NonNegative = 100
    prompt: str = ""
    seed: int = 0
    batch_size: Positive = 32
    splits: tuple[Name, ...] = ("train", "test")
    evaluation_split: Name = "test"
    device: Device = "auto"
    train_from: dict[str, str] = field(default_factory=dict)
    classifier_from: dict[str, str] = field(default_factory=dict)
    shard_size: Positive | None = optional_key()

    def __post_init__(self) -> None:
        if self.shard_size is not None and self.shard_size < 1:
            raise ValueError(f"baselines.features.shard_size must be a positive number of maps, got {self.shard_size}")
        object.__setattr__(self, "datasets", tuple(self.datasets))
        object.__setattr__(self, "splits", tuple(self.splits))
        for key in ("train_from", "classifier_from"):
            unknown = sorted(set(getattr(self, key)) - set(self.datasets))
            if unknown:
                raise ValueError(f"baselines.features.{key}: {unknown} not among baselines.features.datasets")
        for column, source in self.classifier_from.items():
            if source not in self.datasets or source in self.classifier_from:
                raise ValueError(f"baselines.features.classifier_from.{column}: {source!r} must be a column that "
                                 "trains its own classifier (in datasets, not itself in classifier_from)")
        if self.timestep < 0:
            raise ValueError(f"baselines.features.timestep must be >= 0, got {self.timestep}")
        if "train" not in self.splits or self.evaluation_split not in self.splits:
            raise ValueError(f"baselines.features.splits {list(self.splits)} must contain 'train' and the "
                             f"evaluation split {self.evaluation_split!r}")


    @property
    def feature_datasets(self) -> tuple[str, ...]:
        """Every dataset whose maps are extracted: the columns and their train sources."""
        return tuple(dict.fromkeys([*self.datasets, *self.train_from.values()]))

    def splits_of(self, dataset: str) -> tuple[str, ...]:
        """Splits extracted for ``dataset``: a borrowed-training column only its evaluation
        split, a train source that is no column only ``train``, every other column all."""
        if dataset in self.train_from or dataset in self.classifier_from:
            return (self.evaluation_split,)
        if dataset not in self.datasets:
            return ("train",)
        return self.splits


# --- robustness study (zoo, shifts, fits; paper Sec. 6.3.1) ----------------------------
@dataclass(frozen=True)
class EvaluationSetting:
    """One entry of ``zoo.settings``: where the zoo is evaluated.

    Attributes:
        dataset: Name of a dataset of the config.
        split: Its split to evaluate.
        classes_from: Dataset whose ``class_ids`` define the candidate classes and
            the images kept (ID counterparts of ImageNet-A / ObjectNet); ``None``:
            the dataset's own mapping.
        border_crop: Pixels cropped from every side before preprocessing (ObjectNet: 2).
        batch_size: Images per forward pass.
    """

    dataset: str
    split: Name = "test"
    classes_from: str | None = None
    border_crop: NonNegative = 0
    batch_size: Positive = 256


@dataclass(frozen=True)
class ShiftSpec:
    """One entry of ``shifts:``: a dataset derived from another by rule ``build_shift``.

    Attributes:
        base: Dataset (of ``datasets:``) the shifted images are made from.
        split: Split of the base that is shifted.
        reference: Zoo model the set is filtered against (adversarial sets, like
            ImageNet-A against ResNet-50); ``None`` for a plain corruption.
    """

    base: str
    split: Name = "test"
    reference: str | None = None


@dataclass(frozen=True)
class DiffusionRowSpec:
    """A Diffusion Classifier point of a fit: two experiments' summaries (ID and OOD).

    Attributes:
        label: Row name in Table 4 and Figure 6.
        model: Diffusion model (of ``models:``).
        strategy: Strategy (of ``strategies:``) of both experiments.
        id_dataset: Dataset of the ID experiment.
        ood_dataset: Dataset of the OOD experiment.
        paper_name: Row of the paper's Table 4 with this model's values, if any.
        id_classes_from: Replay the ID accuracy from the stored run of ``id_dataset``
            restricted to this dataset's classes (its images of those classes, the argmin
            over those classes) instead of reading a run of its own; ``None``: the
            ``id_dataset`` run's own summary (e.g. a full restricted-validation run).
    """

    label: str
    model: str
    strategy: str
    id_dataset: str
    ood_dataset: str
    paper_name: str | None = None
    id_classes_from: str | None = None


@dataclass(frozen=True)
class TestbedColumnsSpec:
    """``robustness.fits.<fit>.testbed``: the testbed's columns and selection of one shift.

    Attributes:
        id: Testbed column on the ID axis (``imagenet_val``, ``imagenet_val_on_a_classes``, ...).
        ood: Testbed column on the OOD axis (``imagenetv2_matched_frequency``, ``imagenet_a``, ...).
        selection: Which models are drawn and fitted (``robustness.testbed.SELECTIONS``).
    """

    id: str
    ood: str
    selection: str = "standard"


@dataclass(frozen=True)
class TrendSpec:
    """``robustness.trend``: where the discriminative trend comes from.

    Attributes:
        source: ``zoo`` (fitted on our evaluated zoo) or ``testbed`` (fitted on the
            published accuracies of Taori et al.'s testbed, our zoo drawn and checked
            beside them; paper scale).
        file: Another copy of the testbed table (default: the packaged one).
        names: Zoo model -> testbed model name where they differ.
    """

    source: Literal["zoo", "testbed"] = "zoo"
    file: str | None = None
    names: dict[str, str] = unfilled(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in ("zoo", "testbed"):
            raise ValueError(f"robustness.trend.source must be 'zoo' or 'testbed', got {self.source!r}")


@dataclass(frozen=True)
class FitSpec:
    """One entry of ``robustness.fits``: one shift, one trend, one panel of Figure 6.

    Attributes:
        id_setting: Zoo evaluation setting (``zoo.settings``) on the ID axis.
        ood_setting: Zoo evaluation setting on the OOD axis.
        title: Panel and table title.
        reference: Zoo model that built the OOD set: piecewise fit split at its ID
            accuracy, the reference itself left out (ImageNet-A). ``None``: one line.
        pivot: Explicit pivot ID accuracy in (0, 1) instead of the reference's.
        diffusion: Diffusion Classifier rows evaluated against the trend.
        paper_id_column: Column of the paper's Table 4 for the ID accuracy (``IN``).
        paper_ood_column: Column of the paper's Table 4 for the OOD accuracy.
        testbed: :class:`TestbedColumnsSpec` fields (``robustness.trend.source: testbed``).
    """

    id_setting: str
    ood_setting: str
    title: str = unfilled(default="")
    reference: str | None = None
    pivot: Annotated[float, Field(gt=0, lt=1)] | None = None
    diffusion: list[Annotated[dict, section(DiffusionRowSpec)]] = unfilled(default_factory=list)
    paper_id_column: str | None = None
    paper_ood_column: str | None = None
    testbed: Annotated[dict, section(TestbedColumnsSpec)] | None = optional_key()

    @property
    def diffusion_rows(self) -> list[DiffusionRowSpec]:
        return [from_dict(DiffusionRowSpec, d, f"diffusion row {i}") for i, d in enumerate(self.diffusion)]


@dataclass(frozen=True)
class RobustnessSpec:
    """The ``robustness:`` section: how every fit is made.

    Attributes:
        alpha: Two-sided level of the Clopper-Pearson intervals (0.005 = 99.5%).
        boundary_policy: ``exclude`` leaves models with accuracy 0 or 1 out of a fit
            (and says so); ``raise`` refuses them.
        min_points: Fewest models per fitted line (>= 2, the parameters of a line).
        fits: Fit name -> :class:`FitSpec` fields.
        trend: :class:`TrendSpec` fields (default: the zoo's own trend).
    """

    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.005
    boundary_policy: Literal["exclude", "raise"] = "exclude"
    min_points: Annotated[int, Field(ge=2)] = 2
    fits: dict[Name, Annotated[dict, section(FitSpec)]] = unfilled(default_factory=dict)
    trend: Annotated[dict, section(TrendSpec)] = unfilled(default_factory=dict)

    @property
    def trend_spec(self) -> TrendSpec:
        return from_dict(TrendSpec, self.trend, "robustness.trend")

    def fit(self, name: str) -> FitSpec:
        if name not in self.fits:
            raise ValueError(f"robustness.fits has no fit {name!r}; defined: {sorted(self.fits)}")
        return from_dict(FitSpec, self.fits[name], f"robustness.fits.{name}")


@dataclass(frozen=True)
class ScheduleSpec:
    """An adaptive schedule on a stored grid: Algorithm 2's TrialList and KeepList.

    Attributes:
        evaluations: Evaluations per class by the end of each stage (TrialList); the last is the grid size.
        keep: Classes kept after each stage (KeepList).
    """

    evaluations: list[Positive]
    keep: list[Positive] = unfilled(default_factory=lambda: [1])
