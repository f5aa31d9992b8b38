import json
import os
import shlex

from snakemake.utils import validate

from diffusion_classifier.artifacts.timing import RESULTS_ENV
from diffusion_classifier.workflow_config import check_config

# Validate first: a misspelt key or dangling name fails here, before any job runs.
validate(config, schema="../schemas/config.schema.yaml")
check_config(config)

RESULTS = config.get("results", "results")
# Measured times go to {RESULTS}/timing, apart from the versioned artifacts: every job's
# stage finds the results directory here (the Snakefile is read again in every job).
os.environ[RESULTS_ENV] = os.path.abspath(RESULTS)

# Shard numbers go into shell arithmetic ($((10#{wildcards.shard}))): digits only.
wildcard_constraints:
    shard=r"\d+",

THREADS = config.get("threads", 2)
SCORING = config.get("scoring", {})
NUM_SHARDS = SCORING.get("shards", 1)
# Every rule runs this package; with `--sdm conda` this environment provides it
# (relative to workflow/rules/, where the rules live).
CONDA_ENV = "../../envs/diffusion-classifier.yaml"


def as_json(obj):
    """A config section as one JSON argument for the CLI."""
    return json.dumps(obj, sort_keys=True)


def dataset_dir(name):
    return f"{RESULTS}/data/{name}"


def model_dir(name):
    return f"{RESULTS}/models/{name}"


def model_checkpoint(wildcards):
    """The checkpoint to load: a trained model's directory, or the configured hub id."""
    spec = config["models"][wildcards.model]
    return spec["checkpoint"] if spec.get("checkpoint") else model_dir(wildcards.model)


def trained_model_input(wildcards):
    """Trained models are a rule's output; hub checkpoints are not files of the DAG."""
    spec = config["models"][wildcards.model]
    return [] if spec.get("checkpoint") else [model_dir(wildcards.model)]


def shard_dirs(wildcards):
    return expand(
        "{results}/scores/{dataset}/{model}/{strategy}/shard-{shard:03d}",
        results=RESULTS,
        dataset=wildcards.dataset,
        model=wildcards.model,
        strategy=wildcards.strategy,
        shard=range(NUM_SHARDS),
    )


def experiment_split(wildcards):
    for run in config["experiments"]:
        if (run["dataset"], run["model"], run["strategy"]) == (
            wildcards.dataset,
            wildcards.model,
            wildcards.strategy,
        ):
            return run.get("split", "test")
    raise ValueError(f"no experiment {wildcards.dataset}/{wildcards.model}/{wildcards.strategy}")


def summaries():
    """Summaries of the reported experiments (opt_in runs are built only when asked for)."""
    return [
        f"{RESULTS}/predictions/{run['dataset']}/{run['model']}/{run['strategy']}.summary.json"
        for run in config["experiments"]
        if not run.get("opt_in", False)
    ]


# Final targets of `rule all`; each rules file appends what it contributes.
ALL_OUTPUTS = []

# Table 1 cells: row key (reporting.table1.TABLE1_ROWS) -> dataset -> summary JSON.
# Each producer's rules file adds its files; make_table1 reads whatever is registered.
TABLE1_SOURCES = {}
