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
import sys
from typing import Callable

__all__ = ["main", "command"]

_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], None], str]] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register the decorated ``run(args)`` as subcommand ``name``."""

    def decorator(run: Callable[[argparse.Namespace], None]):
        if name in _COMMANDS:
            raise ValueError(f"subcommand {name!r} is registered twice")
        _COMMANDS[name] = (add_arguments, run, help)
        return run

    return decorator


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text[:80]}") from None


def _threads(args: argparse.Namespace) -> None:
    import torch

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)


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
    p.add_argument("--threads", type=int, default=0)


@command("train-model", "Train a small (class- or text-conditional) diffusion model on a prepared dataset.",
         _add_train)
def _run_train(args: argparse.Namespace) -> None:
    from .stages.train import train_model

    _threads(args)
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
    p.add_argument("--threads", type=int, default=0)


@command("score-shard", "Score one shard of a dataset with one model and strategy.", _add_score)
def _run_score(args: argparse.Namespace) -> None:
    from .stages.score import score_shard

    _threads(args)
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


@command("make-tables", "Write the classification and runtime tables.", _add_tables)
def _run_tables(args: argparse.Namespace) -> None:
    from .stages.report import make_tables

    make_tables(args.summaries, args.out_dir)


# --- zero-shot and compositional (text-conditional models) ---------------------------
def _add_prompts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="prepared dataset directory")
    p.add_argument("--checkpoint", required=True, help="model directory or hub id")
    p.add_argument("--model", type=_json, required=True, help="JSON model section")
    p.add_argument("--prompt", type=_json, default={}, help='JSON {"template": ..., "class_names": [...]}')
    p.add_argument("--scoring", type=_json, default={}, help="JSON scoring section (device)")
    p.add_argument("--names", type=_json, default={})
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=0)


@command("prepare-prompts", "Encode a dataset's prompts (or captions) once with a text-conditional model.",
         _add_prompts)
def _run_prompts(args: argparse.Namespace) -> None:
    from .stages.prompts import prepare_prompts

    _threads(args)
    prepare_prompts(args.dataset, args.checkpoint, args.model, args.out, prompt=args.prompt,
                    scoring=args.scoring, names=args.names)


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
    p.add_argument("--threads", type=int, default=0)


@command("score-pairs", "Score a shard of a caption-pair (Winoground-format) dataset against its captions.",
         _add_score_pairs)
def _run_score_pairs(args: argparse.Namespace) -> None:
    from .stages.pairs import score_pairs

    _threads(args)
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


# ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffusion-classifier", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add, run, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as exc:
        # Expected user errors: one clear line, no traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
