# All Python of the workflow, as snakemake-workflows keep it: config validation, the
# config's sections, every artifact's path by name, input functions and the final
# targets. The other rules files hold rules only and are defined unconditionally: the
# config decides which of their outputs `rule all` requests (get_final_output below).
import json
import os
import re
import shlex

from snakemake.utils import validate

# Torch-free, so that parsing (and `snakemake -n`) takes a second, not the package's import.
from diffusion_classifier.artifacts.timing import RESULTS_ENV
from diffusion_classifier.numerics import MODE_ENV as NUMERICS_ENV
from diffusion_classifier.reporting.catalog import artifact, artifacts
from diffusion_classifier.specs import RobustnessSpec, ScoringSpec, from_dict
from diffusion_classifier.workflow_config import (
    AUDIT_WEIGHT_FILES,
    PROMPT_ADAPTERS,
    PromptTablesSpec,
    check_config,
    check_names,
)

# Validate first: a misspelt key or a dangling name between sections fails here, before
# the DAG is built; registry names and section specs (adapters, objectives, schedules,
# prompt templates, ...) before the first job of a run.
validate(config, schema="../schemas/config.schema.yaml")
check_names(config)


onstart:
    check_config(config)


# ------------------------------------------------------------------ settings and sections
# The schema fills every default it states (config["results"], a run's "split", ...): the
# rules read the key, never restate the default. A section that may be absent reads as
# empty; one whose defaults the stage applies is parsed by its spec (diffusion_classifier.specs).
RESULTS = config["results"]
# Measured times go to {RESULTS}/timing, apart from the versioned artifacts: every job's
# stage finds the results directory here (the Snakefile is read again in every job).
os.environ[RESULTS_ENV] = os.path.abspath(RESULTS)
# CPU numerics of every job (portable: the same bytes on any x86-64 CPU with AVX2; native:
# each library's fastest kernels), which the console script pins before torch loads.
os.environ[NUMERICS_ENV] = config["numerics"]  # the schema fills its default


# Shard numbers go into shell arithmetic ($((10#{wildcards.shard}))): digits only.
wildcard_constraints:
    shard=r"\d+",


THREADS = config["threads"]  # the schema fills its default
SCORING = config.get("scoring", {})
NUM_SHARDS = from_dict(ScoringSpec, SCORING, "scoring").shards
# Every rule runs this package; with `--sdm conda` this environment provides it
# (relative to workflow/rules/, where the rules live).
CONDA_ENV = "../../envs/diffusion-classifier.yaml"

# Optional sections read as empty when absent, so every rule parses under every config.
AUDIT = config.get("audit") or {}
BASELINES = config.get("baselines", {})
CLIP_MODELS = BASELINES.get("clip_models", {})
ZERO_SHOT = BASELINES.get("zero_shot") or {}
WINOGROUND = BASELINES.get("winoground") or {}
SYNTHETIC = BASELINES.get("synthetic") or {}
FEATURES = BASELINES.get("features") or {}
TABLE1 = config.get("table1") or {}
TABLE3 = config.get("table3") or {}
CONTRASTIVE = config.get("contrastive") or {}
NOISE_PAIRING = config.get("noise_pairing") or {}
COMPOSITIONAL = config["compositional"]
PROMPT_TABLES = from_dict(PromptTablesSpec, config.get("prompt_tables"), "prompt_tables")
SUPERVISED = config.get("supervised", {})
TIMESTEPS = SUPERVISED.get("timesteps", {})
STUDY = SUPERVISED.get("schedules", {})
# The discriminative zoo (paper Sec. 6.3.1); the models that enter the fits are
# `zoo.members` when given (a test config picks a few), else every model defined.
ZOO = config.get("zoo", {"models": {}, "settings": {}})
ZOO_MEMBERS = ZOO.get("members") or list(ZOO.get("models", {}))
SHIFTS = config.get("shifts", {})
ROBUSTNESS = config.get("robustness", {"fits": {}})
FITS = list(ROBUSTNESS.get("fits", {}))
# SD-features columns scored by another column's classifier (ObjectNet: ImageNet's).
FEATURES_BORROWED = FEATURES["classifier_from"] if FEATURES else {}
FEATURES_TRAINED = [d for d in FEATURES.get("datasets", []) if d not in FEATURES_BORROWED]
# The SD model of each of these baselines: a fixed component of its rules' output paths.
SYNTHETIC_MODEL = SYNTHETIC.get("model", "none")
FEATURES_MODEL = FEATURES.get("model", "none")
# Figure 5 shows this many examples per swap type.
PAIR_EXAMPLES_PER_TAG = 3


def one_of(names):
    """A wildcard constraint matching exactly ``names`` (nothing when there are none)."""
    return "|".join(re.escape(name) for name in names) if names else "(?!)"


# Shard numbers go into shell arithmetic ($((10#{wildcards.shard}))): digits only.
wildcard_constraints:
    shard=r"\d+",


# ------------------------------------------------------------------ paths, by name
def as_json(obj):
    """A config section as one JSON argument for the CLI."""
    return json.dumps(obj, sort_keys=True)


def dataset_dir(name):
    return f"{RESULTS}/data/{name}"


def model_dir(name):
    return f"{RESULTS}/models/{name}"


def checkpoint_of(model):
    """The checkpoint to load: a trained model's directory, or the configured hub id."""
    return config["models"][model].get("checkpoint") or model_dir(model)


def trained_model_of(model):
    """Trained models are a rule's output; hub checkpoints are not files of the DAG."""
    return [] if config["models"][model].get("checkpoint") else [model_dir(model)]


def shards_of(dataset, model, strategy, kind="scores"):
    """Shard directories of one run: ``scores`` (score_shard) or ``pairs`` (score_pairs)."""
    return [f"{RESULTS}/{kind}/{dataset}/{model}/{strategy}/shard-{shard:03d}" for shard in range(NUM_SHARDS)]


def summary_of(dataset, model, strategy):
    """The summary of one classification run (aggregate_scores)."""
    return f"{RESULTS}/predictions/{dataset}/{model}/{strategy}.summary.json"


def pair_summary_of(dataset, model, strategy):
    """The summary of one compositional run (aggregate_pairs)."""
    return f"{RESULTS}/compositional/{dataset}/{model}/{strategy}.summary.json"


def contrastive_summary_of(dataset):
    return f"{RESULTS}/compositional/contrastive/{dataset}.summary.json"


def clip_summary(model, dataset):
    return f"{RESULTS}/baselines/clip_zero_shot/{model}/{dataset}.summary.json"


def clip_winoground_summary(model):
    return f"{RESULTS}/baselines/clip_winoground/{model}.summary.json"


def synthetic_file(dataset, name):
    """A file of the "Synthetic SD Data" baseline of one dataset (its shards, dataset, classifier)."""
    return f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC_MODEL}/{dataset}/{name}"


def synthetic_shards(dataset):
    """Generation shards of one dataset (rule generate_synthetic)."""
    return [synthetic_file(dataset, f"shard-{shard:03d}") for shard in range(SYNTHETIC["shards"])]


def features_file(dataset, name):
    """A file of the "SD Features" baseline of one dataset (its classifier, predictions, summary)."""
    return f"{RESULTS}/baselines/sd_features/{FEATURES_MODEL}/{dataset}/{name}"


def features_dir(dataset):
    """The UNet feature maps of one dataset (rule extract_sd_features)."""
    return f"{RESULTS}/features/{FEATURES_MODEL}/{dataset}"


def zoo_model_dir(name):
    return f"{RESULTS}/zoo/models/{name}"


def zoo_summary(setting, model):
    return f"{RESULTS}/zoo/predictions/{setting}/{model}.summary.json"


def fit_file(fit, name):
    """``models.csv``, ``parameters.csv`` or ``fit.json`` of one effective-robustness fit."""
    return f"{RESULTS}/robustness/{fit}/{name}"


def prompts_dir(dataset, model):
    return f"{RESULTS}/conditioning/{dataset}/{model}"


def released_table(dataset):
    """The verified copy of a dataset's released prompt table (rule fetch_prompt_table)."""
    return f"{RESULTS}/prompt_tables/{dataset}.csv"


# ------------------------------------------------------------------ the paper's artifacts
# Every table and figure is an entry of the catalog (reporting/catalog.yaml): its files,
# report caption and category, the config sections that ask for it and its metrics.
# Its rule names its outputs through artifact_output; rule all requests what
# requested() allows. One caption file renders every artifact's caption from its rule's
# `params.caption` (report_caption).
ARTIFACT_CAPTION = "../report/artifact.rst"


def artifact_output(name, suffix, folder=None):
    """An artifact's file for a rule's output (``{dataset}`` left a wildcard), in the report
    (with its category) where the catalog says so."""
    entry = artifact(name)
    file = entry.file(suffix, folder)
    if not entry.in_report(file):
        return f"{RESULTS}/{file}"
    return report(f"{RESULTS}/{file}", caption=ARTIFACT_CAPTION, category=entry.category_of(file))


def report_caption(*names):
    """The report caption of a rule's artifacts (``params.caption``, which ARTIFACT_CAPTION shows)."""
    return "\n\n".join(artifact(name).caption for name in names)


def config_section(dotted):
    """The config value at a dotted path (``supervised.timesteps``), None where absent."""
    value = config
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


# Artifacts asked for by more than a config section: the zero-shot table needs a reported
# experiment of a text-conditional model.
REQUESTED_ONLY_IF = {"zeroshot": lambda: bool(zeroshot_runs())}


def requested(name):
    """Whether the config asks for an artifact: every section it requires is there and non-empty."""
    only_if = REQUESTED_ONLY_IF.get(name, lambda: True)
    return all(config_section(path) for path in artifact(name).requires) and only_if()


# The tables that rule make_tables builds from their catalog `frame` and `inputs`, and the
# input kinds they may name: each a function listing the JSON files of that kind.
CATALOG_TABLES = [name for name in artifacts() if artifact(name).frame]
ARTIFACT_INPUTS = {"summaries": lambda: summaries()}


def catalog_table_inputs(wildcards):
    """Input kind -> files of a catalog table made by rule make_tables."""
    return {kind: ARTIFACT_INPUTS[kind]() for kind in artifact(wildcards.table).inputs}


def artifact_outputs(name):
    """Every file of an artifact, ``{dataset}`` expanded over its config list's datasets."""
    entry = artifact(name)
    files = [f"{RESULTS}/{file}" for file in entry.files]
    if entry.per_dataset_of is None:
        return files
    datasets = sorted({run["dataset"] for run in config_section(entry.per_dataset_of) or []})
    return [file.replace("{dataset}", dataset) for file in files for dataset in datasets]


# The headline numbers (`dvc metrics show`) and every table's numbers (reporting.metrics).
METRICS = f"{RESULTS}/metrics.json"
METRICS_DETAIL = f"{RESULTS}/metrics_detail.json"


# ------------------------------------------------------------------ runs and prompts
def uses_prompts(model):
    """Whether a model is conditioned on prompts (text) rather than class ids."""
    return config["models"][model]["adapter"] in PROMPT_ADAPTERS


def reported_runs():
    """The experiments of the tables (opt_in runs are built only when asked for)."""
    return [run for run in config["experiments"] if not run["opt_in"]]


def summaries():
    """Summaries of the reported experiments."""
    return [summary_of(run["dataset"], run["model"], run["strategy"]) for run in reported_runs()]


def opt_in_summaries():
    """Summaries of the opt-in experiments (the target of rule opt_in)."""
    return [summary_of(run["dataset"], run["model"], run["strategy"]) for run in config["experiments"] if run["opt_in"]]


def zeroshot_runs():
    """Reported experiments of the text-conditional models (the zero-shot table)."""
    return [run for run in reported_runs() if uses_prompts(run["model"])]


def compositional_summaries():
    return [pair_summary_of(run["dataset"], run["model"], run["strategy"]) for run in COMPOSITIONAL]


def contrastive_summaries():
    return [contrastive_summary_of(CONTRASTIVE["dataset"])] if CONTRASTIVE else []


def experiment_of(dataset, model, strategy):
    for run in config["experiments"]:
        if (run["dataset"], run["model"], run["strategy"]) == (dataset, model, strategy):
            return run
    raise ValueError(f"no experiment {dataset}/{model}/{strategy}")


def experiment_split(dataset, model, strategy):
    return experiment_of(dataset, model, strategy)["split"]


# A sequential run's calibration set (experiments[].calibration: the conditional test's
# mean and covariance, from images of another split scored at one stage on the run's grid).
def calibration_file(dataset, model, strategy):
    return f"{RESULTS}/calibration/{dataset}/{model}/{strategy}.json"


def calibration_inputs(w):
    """The calibration file a scoring job reads (none without ``experiments[].calibration``)."""
    run = experiment_of(w.dataset, w.model, w.strategy)
    return [calibration_file(w.dataset, w.model, w.strategy)] if run.get("calibration") else []


def calibration_flag(w):
    """``--calibration FILE`` as a list of words, for ``{params.calibration:q}`` (empty without one)."""
    return [word for path in calibration_inputs(w) for word in ("--calibration", path)]


def compositional_run(dataset, model, strategy):
    for run in COMPOSITIONAL:
        if (run["dataset"], run["model"], run["strategy"]) == (dataset, model, strategy):
            return run
    raise ValueError(f"no compositional run {dataset}/{model}/{strategy}")


def run_names(wildcards):
    """``--names`` of a job scoring one dataset x model x strategy."""
    return as_json({"dataset": wildcards.dataset, "model": wildcards.model, "strategy": wildcards.strategy})


def prompts_of(dataset, model):
    """The prompt table a scoring job reads (text-conditional models only)."""
    return [prompts_dir(dataset, model)] if uses_prompts(model) else []


def prompts_flag(dataset, model):
    """``--prompts-dir DIR`` as a list of words, for ``{params.prompts:q}`` (empty without prompts)."""
    return [word for path in prompts_of(dataset, model) for word in ("--prompts-dir", path)]


def released_table_source(dataset):
    """(URL, download cache path) of a dataset's released table; see the schema's prompt_tables."""
    name = config["datasets"][dataset]["prompt_table"]["file"]
    return f"{PROMPT_TABLES.base_url.rstrip('/')}/{name}", f"{PROMPT_TABLES.dir}/{name}"


def released_table_of(dataset):
    return [released_table(dataset)] if config["datasets"][dataset].get("prompt_table") else []


def prompt_settings(dataset):
    """The dataset's prompt source as prepare-prompts takes it: a released table, or template (+ names)."""
    spec = config["datasets"][dataset]
    if spec.get("prompt_table"):
        table = spec["prompt_table"]
        return {"table": released_table(dataset), "identical_prompts": table["identical_prompts"]}
    settings = {"template": spec.get("prompt_template", "{}")}
    if spec.get("prompt_class_names"):
        settings["class_names"] = spec["prompt_class_names"]
    return settings


# ------------------------------------------------------------------ baselines and audit
def audit_weight_files():
    """Filter-weight files present in weights_dir: adding one later reruns the audit."""
    paths = [os.path.join(AUDIT["weights_dir"], name) for name in AUDIT_WEIGHT_FILES]
    return [p for p in paths if os.path.isfile(p)]


def table1_sources():
    """Table 1 cells: row key (reporting.table1.TABLE1_ROWS) -> dataset -> summary JSON."""
    if not TABLE1:
        return {}
    sources = {}
    for dataset, run in TABLE1["diffusion_classifier"].items():
        sources.setdefault("diffusion_classifier", {})[dataset] = summary_of(dataset, run["model"], run["strategy"])
    for model in ZERO_SHOT.get("models", []):
        row = CLIP_MODELS[model].get("table1_row")
        for dataset in ZERO_SHOT["datasets"]:
            if row and dataset in TABLE1["datasets"]:
                sources.setdefault(row, {})[dataset] = clip_summary(model, dataset)
    for row, section, file in (
        ("synthetic_sd_data", SYNTHETIC, synthetic_file),
        ("sd_features", FEATURES, features_file),
    ):
        for dataset in section.get("datasets", []):
            if dataset in TABLE1["datasets"]:
                sources.setdefault(row, {})[dataset] = file(dataset, "summary.json")
    return sources


def table1_inputs():
    """Every Table 1 summary."""
    return sorted({path for cells in table1_sources().values() for path in cells.values()})


def table3_clip():
    """Table 3's CLIP rows: model -> Winoground summary."""
    return {model: clip_winoground_summary(model) for model in WINOGROUND.get("models", [])}


def objective_runs():
    """Table 5's runs with their shard directories, as the CLI takes them."""
    return [
        {**run, "shards": shards_of(run["dataset"], run["model"], run["strategy"])}
        for run in SUPERVISED["objectives"]["runs"]
    ]


def study_direct():
    return [{"strategy": s, "shards": shards_of(STUDY["dataset"], STUDY["model"], s)} for s in STUDY["direct"]]


def study_sequential_runs():
    return [
        {"name": f"{r['dataset']}/{r['model']}", "shards": shards_of(r["dataset"], r["model"], r["strategy"])}
        for r in STUDY["sequential_runs"]
    ]


def feature_training_inputs(wildcards):
    """A column's own maps, plus the train maps and dataset it borrows (features.train_from)."""
    dataset = wildcards.dataset
    inputs = {"features": features_dir(dataset), "dataset": dataset_dir(dataset)}
    source = FEATURES["train_from"].get(dataset)
    if source:
        inputs.update(train_features=features_dir(source), train_dataset=dataset_dir(source))
    return inputs


def feature_training_args(wildcards, input):
    """Extra words for ``{params.train:q}`` (empty without a separate training dataset)."""
    if "train_features" not in input.keys():
        return []
    return ["--train-features-dir", input.train_features, "--train-dataset-dir", input.train_dataset]


# ------------------------------------------------------------------ zoo and robustness
def zoo_trained_of(name):
    """Trained zoo models are a rule's output; published weights are not files of the DAG."""
    return [zoo_model_dir(name)] if ZOO["models"][name].get("train") else []


def zoo_evaluation_inputs(wildcards):
    """Every dataset the zoo is evaluated on (and the class restrictions), plus the checkpoint."""
    datasets = set()
    for setting in ZOO["settings"].values():
        datasets.add(setting["dataset"])
        if setting.get("classes_from"):
            datasets.add(setting["classes_from"])
    return {"datasets": [dataset_dir(d) for d in sorted(datasets)], "model": zoo_trained_of(wildcards.zoo_model)}


def zoo_evaluation_flags(wildcards, input):
    return ["--checkpoint", input.model[0]] if input.model else []


def shift_inputs(wildcards):
    shift = SHIFTS[wildcards.shift]
    inputs = {"base": dataset_dir(shift["base"])}
    if shift.get("reference"):
        inputs["reference"] = zoo_trained_of(shift["reference"])
    return inputs


def shift_reference(wildcards, input):
    """``--reference JSON`` as a list of words for ``{params.reference:q}`` (empty for a plain corruption)."""
    name = SHIFTS[wildcards.shift].get("reference")
    if not name:
        return []
    weights_dir = input.reference[0] if input.reference else None
    reference = {"name": name, "spec": ZOO["models"][name], "checkpoint": weights_dir}
    return ["--reference", as_json(reference)]


def fit_zoo_summaries(fit):
    spec = ROBUSTNESS["fits"][fit]
    return [
        zoo_summary(setting, model) for setting in (spec["id_setting"], spec["ood_setting"]) for model in ZOO_MEMBERS
    ]


def restricted_summary_of(dataset, model, strategy, classes_from):
    """The ID summary replayed from a stored run on another dataset's classes (replay_restricted)."""
    return f"{RESULTS}/restricted/{dataset}/{model}/{strategy}/{classes_from}.summary.json"


def fit_diffusion_summaries(fit):
    """Each row's ID summary (its own run, or replayed on a shift's classes) and OOD summary."""
    rows = from_dict(RobustnessSpec, ROBUSTNESS, "robustness").fit(fit).diffusion_rows
    return [
        summary
        for row in rows
        for summary in (
            (
                restricted_summary_of(row.id_dataset, row.model, row.strategy, row.id_classes_from)
                if row.id_classes_from
                else summary_of(row.id_dataset, row.model, row.strategy)
            ),
            summary_of(row.ood_dataset, row.model, row.strategy),
        )
    ]


# ------------------------------------------------------------------ final targets
def analysis_outputs():
    """Every requested table and figure of the catalog and every baseline summary (all but the metrics)."""
    outputs = [file for name in artifacts() if requested(name) for file in artifact_outputs(name)]
    outputs += [clip_summary(m, d) for m in ZERO_SHOT.get("models", []) for d in ZERO_SHOT["datasets"]]
    outputs += [clip_winoground_summary(m) for m in WINOGROUND.get("models", [])]
    outputs += [synthetic_file(d, "summary.json") for d in SYNTHETIC.get("datasets", [])]
    outputs += [features_file(d, "summary.json") for d in FEATURES.get("datasets", [])]
    return outputs


def metric_tables():
    """The CSV of every requested table that has headline numbers in the catalog (its ``metrics``)."""
    return sorted(
        f"{RESULTS}/{artifact(name).metrics_csv}" for name in artifacts() if requested(name) and artifact(name).metrics
    )


def get_final_output():
    """The targets of `rule all`, the analysis outputs and the metrics file that reads their tables."""
    return analysis_outputs() + [METRICS, METRICS_DETAIL]
