"""``diffusion-classifier``: the one console script whose subcommands the rules call.

Each subcommand is a thin wrapper over one stage function of
:mod:`diffusion_classifier.stages` (rule ``score_shard`` -> ``score-shard`` ->
``stages.score.score_shard``). Config sections arrive as JSON strings, so a rule
passes exactly the part of the config its job depends on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable

from .errors import UserError

__all__ = ["main", "command"]

#: Environment variable that turns on ``--debug`` (tracebacks) for every subcommand.
DEBUG_ENV = "DIFFUSION_CLASSIFIER_DEBUG"

@dataclass(frozen=True)
class _Command:
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], None]
    help: str
    threads: bool


_COMMANDS: dict[str, _Command] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None], *,
            threads: bool = False):
    """Register the decorated ``run(args)`` as subcommand ``name``.

    ``threads=True`` gives the subcommand ``--threads N`` (the rule's ``{threads}``),
    applied to torch before ``run``: a job never uses more cores than Snakemake gave it.
    """

    def decorator(run: Callable[[argparse.Namespace], None]):
        if name in _COMMANDS:
            raise ValueError(f"subcommand {name!r} is registered twice")
        _COMMANDS[name] = _Command(add_arguments, run, help, threads)
        return run

    return decorator


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text[:80]}") from None


def _set_threads(threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------
def _add_list(p: argparse.ArgumentParser) -> None:
    pass


@command("list", "List registered datasets, adapters, architectures and objectives.", _add_list)
def _run_list(args: argparse.Namespace) -> None:
    from .data import list_datasets
    from .engine import list_objectives
    from .models import list_adapters
    from .models.architectures import list_architectures

    for title, names in (("datasets", list_datasets()), ("adapters", list_adapters()),
                         ("architectures", list_architectures()), ("objectives", list_objectives())):
        print(f"{title}: {', '.join(names)}")


# ---------------------------------------------------------------------------------------
def _add_download(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True, help="name in the dataset registry")
    p.add_argument("--options", type=_json, default={}, help="JSON options of the dataset")
    p.add_argument("--out", required=True)


@command("download-dataset", "Obtain a dataset and write it in the manifest format.", _add_download)
def _run_download(args: argparse.Namespace) -> None:
    from .data import prepare_dataset

    prepare_dataset(args.source, args.out, **args.options)


# ---------------------------------------------------------------------------------------
def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True)


@command("train-model", "Train a small (class- or text-conditional) diffusion model on a prepared dataset.",
         _add_train, threads=True)
def _run_train(args: argparse.Namespace) -> None:
    from .stages.train import train_model

    train_model(args.dataset, args.model, args.name, args.out)


# ---------------------------------------------------------------------------------------
def _add_score(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--checkpoint", required=True, help="model directory or hub id")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--strategy", type=_json, required=True, help="JSON strategy section")
    p.add_argument("--scoring", type=_json, default={}, help="JSON scoring section")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--split", default="test")
    p.add_argument("--names", type=_json, default={}, help="JSON names recorded in provenance")
    p.add_argument("--prompts", default=None, help="prompt table folder (text-conditional models)")
    p.add_argument("--prompt", type=_json, default=None,
                   help='JSON prompt settings {"template": ..., "class_names": [...]} (used without --prompts)')
    p.add_argument("--out", required=True)


@command("score-shard", "Score one shard of a dataset with one model and strategy.", _add_score, threads=True)
def _run_score(args: argparse.Namespace) -> None:
    from .stages.score import score_shard

    score_shard(args.dataset, args.checkpoint, args.model, args.strategy, args.scoring, args.out,
                shard=args.shard, num_shards=args.num_shards, split=args.split, names=args.names,
                prompts=args.prompts, prompt=args.prompt)


# ---------------------------------------------------------------------------------------
def _add_aggregate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--names", type=_json, default={})
    p.add_argument("--predictions", required=True)
    p.add_argument("--summary", required=True)


@command("aggregate-scores", "Merge the shards of one run into predictions and a summary.", _add_aggregate)
def _run_aggregate(args: argparse.Namespace) -> None:
    from .stages.aggregate import aggregate_scores

    aggregate_scores(args.shards, args.dataset, args.predictions, args.summary, names=args.names)


# ---------------------------------------------------------------------------------------
def _add_tables(p: argparse.ArgumentParser) -> None:
    p.add_argument("--summaries", nargs="+", required=True)
    p.add_argument("--out-dir", required=True)


@command("make-tables", "Write the classification table.", _add_tables)
def _run_tables(args: argparse.Namespace) -> None:
    from .stages.report import make_tables

    make_tables(args.summaries, args.out_dir)


@command("make-runtime-table", "Write the runtime table from the shards' timing files.", _add_tables)
def _run_runtime_table(args: argparse.Namespace) -> None:
    from .stages.report import make_runtime_table

    make_runtime_table(args.summaries, args.out_dir)


# --- robustness study: discriminative zoo, distribution shifts, fits (paper Sec. 6.3.1) ---
def _add_train_zoo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--model", type=_json, required=True, help="JSON zoo.models entry")
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True)


@command("train-zoo-model", "Train one classifier of the discriminative zoo.", _add_train_zoo, threads=True)
def _run_train_zoo(args: argparse.Namespace) -> None:
    from .stages.zoo import train_zoo_model

    train_zoo_model(args.dataset, args.model, args.name, args.out)


def _add_evaluate_zoo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=_json, required=True, help="JSON zoo.models entry")
    p.add_argument("--name", required=True)
    p.add_argument("--settings", type=_json, required=True, help="JSON zoo.settings section")
    p.add_argument("--data-root", required=True, help="directory holding the prepared datasets by name")
    p.add_argument("--checkpoint", default=None, help="trained checkpoint directory")
    p.add_argument("--out-dir", required=True, help="writes <setting>/<name>.parquet and .summary.json")


@command("evaluate-zoo-model", "Per-image predictions of one zoo model in every evaluation setting.",
         _add_evaluate_zoo, threads=True)
def _run_evaluate_zoo(args: argparse.Namespace) -> None:
    from .stages.zoo import evaluate_zoo_model

    evaluate_zoo_model(args.model, args.name, args.settings, args.data_root, args.out_dir,
                       checkpoint=args.checkpoint)


def _add_build_shift(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="dataset name of the shifted set")
    p.add_argument("--source", required=True, help="its dataset registry entry")
    p.add_argument("--options", type=_json, default={}, help="JSON datasets.<name>.options")
    p.add_argument("--shift", type=_json, required=True, help="JSON shifts.<name> entry")
    p.add_argument("--base", required=True, help="prepared base dataset directory")
    p.add_argument("--reference", type=_json, default=None, help="JSON {name, spec, checkpoint} of the reference")
    p.add_argument("--out", required=True)


@command("build-shift", "Build a shifted test set from a prepared dataset (and a reference model).",
         _add_build_shift, threads=True)
def _run_build_shift(args: argparse.Namespace) -> None:
    from .stages.robustness import build_shift

    build_shift(args.name, args.source, args.options, args.shift, args.base, args.out, reference=args.reference)


def _add_fit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fit", required=True, help="name in robustness.fits")
    p.add_argument("--robustness", type=_json, required=True, help="JSON robustness section")
    p.add_argument("--zoo-summaries", nargs="+", required=True)
    p.add_argument("--diffusion-summaries", nargs="*", default=[])
    p.add_argument("--out-dir", required=True)


@command("fit-effective-robustness", "Fit the discriminative trend of one shift; effective robustness.", _add_fit)
def _run_fit(args: argparse.Namespace) -> None:
    from .stages.robustness import fit_effective_robustness

    fit_effective_robustness(args.fit, args.robustness, args.zoo_summaries, args.diffusion_summaries, args.out_dir)


def _add_robustness_table(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fits", nargs="+", required=True, help="fit directories")
    p.add_argument("--out-stem", required=True, help="writes <stem>.md and <stem>.csv")


@command("make-robustness-table", "Table 4: ID/OOD accuracy per model beside the paper's.", _add_robustness_table)
def _run_robustness_table(args: argparse.Namespace) -> None:
    from .stages.robustness import make_robustness_table

    make_robustness_table(args.fits, args.out_stem)


def _add_plot_robustness(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fits", nargs="+", required=True, help="fit directories")
    p.add_argument("--png", required=True)
    p.add_argument("--csv", required=True)


@command("plot-effective-robustness", "Figure 6: logit-axis ID/OOD plot with fits and intervals.",
         _add_plot_robustness)
def _run_plot_robustness(args: argparse.Namespace) -> None:
    from .stages.robustness import plot_effective_robustness

    plot_effective_robustness(args.fits, args.png, args.csv)


# ---------------------------------------------------------------------------------------
# LAION-filter audit (Table 2) and CLIP baselines (Tables 1 and 3).
def _add_audit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--name", required=True, help="dataset name in the workflow config")
    p.add_argument("--audit", type=_json, required=True, help="JSON audit section")
    p.add_argument("--scores", required=True, help="per-image scores (Parquet)")
    p.add_argument("--summary", required=True, help="counts and filter availability (JSON)")


@command("audit-filters", "Score one dataset with SD 2.0's LAION filters (Table 2 input).", _add_audit, threads=True)
def _run_audit(args: argparse.Namespace) -> None:
    from .stages.audit import audit_filters

    audit_filters(args.dataset, args.audit, args.scores, args.summary, dataset_name=args.name)


def _add_table2(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scores", nargs="+", required=True, help="per-image audit scores, one per dataset")
    p.add_argument("--summaries", nargs="+", required=True, help="matching audit summaries, same order")
    p.add_argument("--out-stem", required=True, help="writes <stem>.md and <stem>.csv")


@command("make-table2", "Table 2: share of each test set passing the LAION filters.", _add_table2)
def _run_table2(args: argparse.Namespace) -> None:
    from .stages.audit import make_table2

    make_table2(args.scores, args.summaries, args.out_stem)


def _add_clip_zero_shot(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--clip-model", type=_json, required=True, help="JSON baselines.clip_models entry")
    p.add_argument("--zero-shot", type=_json, required=True, help="JSON baselines.zero_shot section")
    p.add_argument("--names", type=_json, required=True, help='JSON {"model": ..., "dataset": ...}')
    p.add_argument("--predictions", required=True)
    p.add_argument("--summary", required=True)


@command("clip-zero-shot", "Zero-shot classify a dataset with a CLIP model (Table 1 row).", _add_clip_zero_shot,
         threads=True)
def _run_clip_zero_shot(args: argparse.Namespace) -> None:
    from .stages.baselines import clip_zero_shot

    clip_zero_shot(args.dataset, args.clip_model, args.zero_shot, args.predictions, args.summary, args.names)


def _add_clip_winoground(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared caption-pair dataset (Winoground) directory")
    p.add_argument("--clip-model", type=_json, required=True, help="JSON baselines.clip_models entry")
    p.add_argument("--winoground", type=_json, required=True, help="JSON baselines.winoground section")
    p.add_argument("--names", type=_json, required=True)
    p.add_argument("--per-example", required=True)
    p.add_argument("--summary", required=True)


@command("clip-winoground", "Winoground text/image/group scores of a CLIP model.", _add_clip_winoground, threads=True)
def _run_clip_winoground(args: argparse.Namespace) -> None:
    from .stages.baselines import clip_winoground

    clip_winoground(args.dataset, args.clip_model, args.winoground, args.per_example, args.summary, args.names)


def _add_table1(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sources", type=_json, required=True, help="JSON row -> dataset -> summary file")
    p.add_argument("--datasets", nargs="+", required=True, help="table columns, in order")
    p.add_argument("--out-stem", required=True, help="writes <stem>.md and <stem>.csv")


@command("make-table1", "Table 1: zero-shot accuracy of every method, the paper's beside ours.", _add_table1)
def _run_table1(args: argparse.Namespace) -> None:
    from .stages.baselines import make_table1

    make_table1(args.sources, args.datasets, args.out_stem)


# Supervised-setup analyses from stored errors (Figures 3-4, Table 5, schedule study).
def _add_figures_timesteps(p: argparse.ArgumentParser) -> None:
    p.add_argument("--even-shards", nargs="+", required=True, help="shards of a one-stage even-grid run")
    p.add_argument("--repeats-shards", nargs="+", required=True, help="shards of a repeated-timestep run")
    p.add_argument("--loss", default="l2")
    p.add_argument("--sets", type=_json, required=True, help="JSON name -> timesteps of Figure 4's fixed sets")
    p.add_argument("--names", type=_json, default={})
    p.add_argument("--out-dir", required=True)


@command("figures-timesteps", "Figures 3 and 4 (single timestep, timestep strategies) from stored errors.",
         _add_figures_timesteps)
def _run_figures_timesteps(args: argparse.Namespace) -> None:
    from .stages.supervised import figures_timesteps

    figures_timesteps(args.even_shards, args.repeats_shards, args.loss, args.sets, args.out_dir, args.names)


def _add_table_objectives(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=_json, required=True,
                   help="JSON list of {dataset, model, strategy, shards, paper}")
    p.add_argument("--objectives", nargs="+", default=["l2", "vlb", "l2_vlb"])
    p.add_argument("--out-stem", required=True, help="writes <stem>.md and <stem>.csv")


@command("table-objectives", "Table 5: accuracy per objective from one stored pass.", _add_table_objectives)
def _run_table_objectives(args: argparse.Namespace) -> None:
    from .stages.supervised import table_objectives

    table_objectives(args.runs, args.objectives, args.out_stem)


def _add_schedule_study(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", nargs="+", required=True, help="shards of a one-stage run")
    p.add_argument("--study", type=_json, required=True,
                   help="JSON {loss, two_stage_evaluations, two_stage_keep, schedules, sequential}")
    p.add_argument("--direct", type=_json, default=[], help="JSON list of {strategy, shards} scored directly")
    p.add_argument("--names", type=_json, default={})
    p.add_argument("--out-stem", required=True)
    p.add_argument("--figure", required=True)
    p.add_argument("--sequential-runs", type=_json, default=[],
                   help="JSON list of {name, shards}: further one-stage runs for the sequential curve")
    p.add_argument("--sequential-out", nargs=2, metavar=("STEM", "FIGURE"),
                   help="table stem and figure of the sequential study (with study.sequential)")


@command("schedule-study", "Passes vs accuracy of adaptive schedules replayed from stored errors.",
         _add_schedule_study)
def _run_schedule_study(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from .specs import from_dict
    from .stages.supervised import ScheduleStudySpec, schedule_study

    study = asdict(from_dict(ScheduleStudySpec, args.study, "supervised.schedules"))
    schedule_study(args.shards, study.pop("loss"), args.out_stem, args.figure, direct=args.direct,
                   names=args.names, sequential_runs=args.sequential_runs, sequential_out=args.sequential_out,
                   **study)


# --- zero-shot and compositional (text-conditional models) ---------------------------
def _add_prompts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--checkpoint", required=True, help="model directory or hub id")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--prompt", type=_json, default={},
                   help='JSON {"template": ..., "class_names": [...]} or {"table": <released table>, ...}')
    p.add_argument("--scoring", type=_json, default={}, help="JSON scoring section (device)")
    p.add_argument("--names", type=_json, default={})
    p.add_argument("--out", required=True)


@command("prepare-prompts", "Encode a dataset's prompts (or captions) once with a text-conditional model.",
         _add_prompts, threads=True)
def _run_prompts(args: argparse.Namespace) -> None:
    from .stages.prompts import prepare_prompts

    prepare_prompts(args.dataset, args.checkpoint, args.model, args.out, prompt=args.prompt,
                    scoring=args.scoring, names=args.names)


def _add_fetch_prompt_table(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True, help="the released table (https:// or file://)")
    p.add_argument("--sha256", required=True, help="the released table's sha256")
    p.add_argument("--cache", required=True, help="where the downloaded file is kept (used if present and intact)")
    p.add_argument("--identical-prompts", type=_json, default=[],
                   help="JSON list of class-index groups allowed to share a prompt")
    p.add_argument("--out", required=True, help="the verified copy the workflow reads")


@command("fetch-prompt-table", "Download and verify the authors' prompt table of a dataset.", _add_fetch_prompt_table)
def _run_fetch_prompt_table(args: argparse.Namespace) -> None:
    from .stages.prompts import fetch_released_prompts

    fetch_released_prompts(args.url, args.sha256, args.cache, args.out, identical_prompts=args.identical_prompts)


def _add_score_pairs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared caption-pair dataset directory")
    p.add_argument("--checkpoint", required=True, help="model directory or hub id")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--strategy", type=_json, required=True, help="JSON one-stage strategy section")
    p.add_argument("--scoring", type=_json, default={}, help="JSON scoring section")
    p.add_argument("--prompts", required=True, help="prompt table folder of the dataset's captions")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--split", default="test")
    p.add_argument("--names", type=_json, default={}, help="JSON names recorded in provenance")
    p.add_argument("--out", required=True)


@command("score-pairs", "Score a shard of a caption-pair (Winoground-format) dataset against its captions.",
         _add_score_pairs, threads=True)
def _run_score_pairs(args: argparse.Namespace) -> None:
    from .stages.pairs import score_pairs

    score_pairs(args.dataset, args.checkpoint, args.model, args.strategy, args.scoring, args.prompts, args.out,
                shard=args.shard, num_shards=args.num_shards, split=args.split, names=args.names)


def _add_aggregate_pairs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--group-by", nargs="*", default=["collapsed_tag"], help="example fields to break scores down by")
    p.add_argument("--names", type=_json, default={})
    p.add_argument("--examples", required=True, help="per-example outcomes (Parquet) to write")
    p.add_argument("--summary", required=True)


@command("aggregate-pairs", "Text, image and group scores of one compositional run.", _add_aggregate_pairs)
def _run_aggregate_pairs(args: argparse.Namespace) -> None:
    from .stages.pairs import aggregate_pairs

    aggregate_pairs(args.shards, args.dataset, args.examples, args.summary, split=args.split,
                    group_by=tuple(args.group_by), names=args.names)


def _add_zeroshot_table(p: argparse.ArgumentParser) -> None:
    p.add_argument("--summaries", nargs="+", required=True)
    p.add_argument("--prompts", nargs="+", required=True, help="the prompt table of each summary, in order")
    p.add_argument("--out", required=True, help="output stem (writes .md and .csv)")


@command("make-zeroshot-table", "Write the zero-shot accuracy table of text-conditional models.",
         _add_zeroshot_table)
def _run_zeroshot_table(args: argparse.Namespace) -> None:
    from .stages.zeroshot import make_zeroshot_table

    make_zeroshot_table(args.summaries, args.prompts, args.out)


def _add_compositional_table(p: argparse.ArgumentParser) -> None:
    p.add_argument("--summaries", nargs="+", required=True)
    p.add_argument("--out", required=True, help="output stem (writes .md and .csv)")


@command("make-compositional-table", "Write the Winoground-style compositional score table.",
         _add_compositional_table)
def _run_compositional_table(args: argparse.Namespace) -> None:
    from .stages.zeroshot import make_compositional_table

    make_compositional_table(args.summaries, args.out)


def _add_table3(p: argparse.ArgumentParser) -> None:
    p.add_argument("--diffusion", required=True, help="aggregate-pairs summary of the Winoground run")
    p.add_argument("--clip", type=_json, required=True, help="JSON CLIP model key -> clip-winoground summary")
    p.add_argument("--out", required=True, help="output stem (.md and .csv)")


@command("make-table3", "Paper Table 3: Winoground text scores, CLIP and ours, the paper's beside.", _add_table3)
def _run_table3(args: argparse.Namespace) -> None:
    from .stages.zeroshot import make_table3

    make_table3(args.diffusion, args.clip, args.out)


# --- Table 1: Synthetic SD Data and SD Features baselines --------------------------------
def _add_generate_synthetic(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="real prepared dataset (its classes are generated)")
    p.add_argument("--prompts", required=True, help="prompt table of the dataset and model (prepare-prompts)")
    p.add_argument("--checkpoint", required=True, help="text-conditional model folder or hub id")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--synthetic", type=_json, required=True, help="JSON baselines.synthetic section")
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--out", required=True, help="shard directory (images/, generation.csv)")
    p.add_argument("--names", type=_json, default={})


@command("generate-synthetic", "Generate one shard of labelled images from the class prompts.",
         _add_generate_synthetic, threads=True)
def _run_generate_synthetic(args: argparse.Namespace) -> None:
    from .stages.synthetic import generate_synthetic

    generate_synthetic(args.dataset, args.prompts, args.checkpoint, args.model, args.synthetic, args.shard,
                       args.out, names=args.names)


def _add_merge_synthetic(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", nargs="+", required=True, help="generation shard directories")
    p.add_argument("--real-dataset", required=True, help="the real dataset the classes come from")
    p.add_argument("--name", required=True, help="name of the synthetic dataset")
    p.add_argument("--out", required=True, help="prepared dataset directory")


@command("merge-synthetic", "Join generation shards into one prepared (train-split) dataset.",
         _add_merge_synthetic)
def _run_merge_synthetic(args: argparse.Namespace) -> None:
    from .stages.synthetic import merge_synthetic

    merge_synthetic(args.shards, args.real_dataset, args.out, args.name)


def _add_baseline_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint-out", required=True, help="trained classifier directory (safetensors + log)")
    p.add_argument("--predictions", required=True, help="per-image predictions (Parquet)")
    p.add_argument("--summary", required=True, help="Table 1 summary JSON")
    p.add_argument("--names", type=_json, default={})


def _add_train_synthetic(p: argparse.ArgumentParser) -> None:
    p.add_argument("--synthetic-dataset", required=True, help="merged synthetic dataset")
    p.add_argument("--real-dataset", required=True, help="real dataset whose test split is scored")
    p.add_argument("--synthetic", type=_json, required=True, help="JSON baselines.synthetic section")
    _add_baseline_outputs(p)


@command("train-synthetic-classifier", "Train on synthetic images only, test on the real split (Table 1).",
         _add_train_synthetic, threads=True)
def _run_train_synthetic(args: argparse.Namespace) -> None:
    from .stages.synthetic import train_synthetic_classifier

    train_synthetic_classifier(args.synthetic_dataset, args.real_dataset, args.synthetic, args.checkpoint_out,
                               args.predictions, args.summary, names=args.names)


def _add_extract_features(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared labelled dataset")
    p.add_argument("--checkpoint", required=True, help="text-conditional model folder or hub id")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--features", type=_json, required=True, help="JSON baselines.features section")
    p.add_argument("--out", required=True, help="feature directory (<split>/features.safetensors, index.csv)")
    p.add_argument("--names", type=_json, default={})


@command("extract-sd-features", "UNet mid-block feature maps at t=100 for a dataset's splits.",
         _add_extract_features, threads=True)
def _run_extract_features(args: argparse.Namespace) -> None:
    from .stages.synthetic import extract_sd_features

    extract_sd_features(args.dataset, args.checkpoint, args.model, args.features, args.out, names=args.names)


def _add_train_features(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features-dir", required=True, help="written by extract-sd-features")
    p.add_argument("--dataset", required=True, help="the dataset the features come from (classes)")
    p.add_argument("--features", type=_json, required=True, help="JSON baselines.features section")
    p.add_argument("--train-features-dir", help="features.train_from: the train maps of another dataset")
    p.add_argument("--train-dataset", help="features.train_from: that dataset (its classes)")
    _add_baseline_outputs(p)


@command("train-feature-classifier", "Train a classifier on SD feature maps, test it (Table 1).",
         _add_train_features, threads=True)
def _run_train_features(args: argparse.Namespace) -> None:
    from .stages.synthetic import train_feature_classifier

    train_feature_classifier(args.features_dir, args.dataset, args.features, args.checkpoint_out,
                             args.predictions, args.summary, names=args.names,
                             train_features_dir=args.train_features_dir, train_dataset_dir=args.train_dataset)


def _add_evaluate_features(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features-dir", required=True, help="the evaluated dataset's maps (extract-sd-features)")
    p.add_argument("--dataset", required=True, help="the evaluated dataset (its class map)")
    p.add_argument("--features", type=_json, required=True, help="JSON baselines.features section")
    p.add_argument("--checkpoint", required=True, help="classifier trained by train-feature-classifier")
    p.add_argument("--trained-summary", required=True, help="that classifier's summary.json")
    p.add_argument("--predictions", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--names", type=_json, default=None)


@command("evaluate-feature-classifier", "Score a dataset's SD feature maps with another column's classifier.",
         _add_evaluate_features, threads=True)
def _run_evaluate_features(args: argparse.Namespace) -> None:
    from .stages.synthetic import evaluate_feature_classifier

    evaluate_feature_classifier(args.features_dir, args.dataset, args.features, args.checkpoint,
                                args.trained_summary, args.predictions, args.summary, names=args.names)


# ---------------------------------------------------------------------------------------
def _add_pair_examples(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared caption-pair dataset (Winoground format)")
    p.add_argument("--per-tag", type=int, required=True, help="examples per collapsed tag")
    p.add_argument("--split", default="test")
    p.add_argument("--out", required=True, help="PNG")


@command("figure-pair-examples", "Figure 5: examples of a caption-pair dataset by swap type.", _add_pair_examples)
def _run_pair_examples(args: argparse.Namespace) -> None:
    from .stages.zeroshot import figure_pair_examples

    figure_pair_examples(args.dataset, args.out, per_tag=args.per_tag, split=args.split)


def _add_noise_pairing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--checkpoint", required=True, help="model directory or hub id")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--spec", type=_json, required=True, help="JSON noise_pairing section")
    p.add_argument("--prompts", default=None, help="prompt table folder (text-conditional models)")
    p.add_argument("--out-stem", required=True, help="writes <stem>.png, <stem>.csv and <stem>.json")


@command("figure-noise-pairing", "Figure 2: one image's error at every t for fixed noises and two classes.",
         _add_noise_pairing, threads=True)
def _run_noise_pairing(args: argparse.Namespace) -> None:
    from .stages.noise_pairing import figure_noise_pairing

    figure_noise_pairing(args.dataset, args.checkpoint, args.model, args.spec, args.out_stem, prompts=args.prompts)


# ---------------------------------------------------------------------------------------
def _add_metrics(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tables", nargs="+", required=True, help="table CSVs (named by file stem)")
    p.add_argument("--out", required=True, help="metrics JSON")


@command("make-metrics", "Every table's headline numbers in one JSON file (DVC metrics).", _add_metrics)
def _run_metrics(args: argparse.Namespace) -> None:
    from .stages.metrics import make_metrics

    make_metrics(args.tables, args.out)


def _add_provenance(p: argparse.ArgumentParser) -> None:
    p.add_argument("--summaries", nargs="+", required=True, help="run summaries (classification, compositional)")
    p.add_argument("--out-stem", required=True, help="writes <stem>.csv and <stem>.md")


@command("make-provenance-table", "What made every scored run the tables are computed from.", _add_provenance)
def _run_provenance(args: argparse.Namespace) -> None:
    from .stages.provenance import make_provenance_table

    make_provenance_table(args.summaries, args.out_stem)


def _add_contrastive(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared caption-pair dataset with a captions.csv corpus")
    p.add_argument("--train", type=_json, default={}, help="JSON training settings (ContrastiveConfig)")
    p.add_argument("--split", default="test")
    p.add_argument("--group-by", nargs="+", default=["collapsed_tag"])
    p.add_argument("--names", type=_json, default={}, help="JSON names (dataset, model, strategy) of the row")
    p.add_argument("--examples", required=True, help="per-example outcomes (Parquet)")
    p.add_argument("--summary", required=True, help="summary JSON (compositional table format)")


@command("evaluate-contrastive", "Train the contrastive (CLIP-analogue) baseline and score caption pairs.",
         _add_contrastive, threads=True)
def _run_contrastive(args: argparse.Namespace) -> None:
    from .stages.contrastive import evaluate_contrastive

    evaluate_contrastive(args.dataset, args.train, args.examples, args.summary, split=args.split,
                         group_by=tuple(args.group_by), names=args.names)


# ---------------------------------------------------------------------------------------
def _add_classify(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint: hub id or local diffusers directory")
    p.add_argument("--images", required=True, help="folder of images (searched recursively; an image in a "
                   "subfolder named like a class is labelled with it)")
    p.add_argument("--classes", nargs="+", required=True, help="candidate class names")
    p.add_argument("--template", default=None, help='text-conditional models: e.g. "a photo of a {}."')
    p.add_argument("--prompts", nargs="+", default=None, help="text-conditional models: one prompt per class")
    p.add_argument("--class-ids", nargs="+", type=int, default=None,
                   help="class-conditional models: the model's id of each class (default 0..N-1)")
    p.add_argument("--adapter", default=None, help="adapter name (default: detected from the checkpoint)")
    p.add_argument("--strategy", default="25",
                   help="EVALS[:KEEP][@LOSS], e.g. 25 or 25,100:5,1 or 25@l1, or a JSON strategy (default 25)")
    p.add_argument("--image-size", type=int, default=None, help="input size (default: the model's)")
    p.add_argument("--dtype", default="float32", help="weights dtype on an accelerator")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs", default=None, help="keep every evaluated pair here (an error-store shard)")
    p.add_argument("--out", required=True, help="CSV of predictions and per-class mean errors")


@command("classify", "Classify a folder of your own images with your own diffusion model.", _add_classify,
         threads=True)
def _run_classify(args: argparse.Namespace) -> None:
    from .classify import ZeroShotClassifier

    image = {"size": args.image_size} if args.image_size is not None else None
    clf = ZeroShotClassifier.load(args.model, args.classes, template=args.template, prompts=args.prompts,
                                  class_ids=args.class_ids, adapter=args.adapter, strategy=args.strategy,
                                  image=image, dtype=args.dtype, device=args.device, seed=args.seed,
                                  batch_size=args.batch_size)
    result = clf.classify_folder(args.images, out=args.pairs)
    path = result.to_csv(args.out)
    accuracy = result.accuracy
    print(f"{len(result.predictions)} images, {clf.passes_per_image} passes per image -> {path}"
          + (f" (accuracy on labelled images: {100 * accuracy:.1f}%)" if accuracy is not None else ""))


# ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffusion-classifier", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an error (also: {DEBUG_ENV}=1, e.g. under Snakemake)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, cmd in _COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        if cmd.threads:
            p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
        p.set_defaults(command_spec=cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command_spec.threads:
            _set_threads(args.threads)
        args.command_spec.run(args)
    except (UserError, ValueError, OSError) as exc:
        # A failure the user can fix: one line naming the file or key and the fix.
        if args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def _one_line(exc: BaseException) -> str:
    """The error as one line; a third-party error keeps its type and points at ``--debug``."""
    if isinstance(exc, OSError) and not isinstance(exc, UserError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"  # permission denied, disk full, ...: names the file
    elif isinstance(exc, UserError) or type(exc) in (ValueError, FileNotFoundError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
