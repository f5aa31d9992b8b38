"""Stage ``prepare_prompts``: a dataset's prompts and their embeddings, once per model.

Classification datasets get one prompt per class from the dataset's template, or
from the authors' released prompt table joined to the dataset's classes;
caption-pair datasets (Winoground format) get their examples' captions. The table
is what ``score_shard`` / ``score_pairs`` read instead of re-encoding the prompts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ._registry import stage

if TYPE_CHECKING:
    from ..models.prompts import PromptSpec

__all__ = ["prepare_prompts", "fetch_released_prompts"]

log = logging.getLogger(__name__)


@stage("fetch-prompt-table")
def fetch_released_prompts(url: str, sha256: str, cache: str | Path, output: str | Path, *,
                           identical_prompts: list | None = None) -> Path:
    """Stage ``fetch_prompt_table``: the authors' prompt table of a dataset, verified.

    Downloads ``url`` into ``cache`` unless a file with the right sha256 is already
    there, copies it to ``output`` and checks its form and that no two classes share a
    prompt (except the groups in ``identical_prompts``), before any scoring job starts.
    The join to the dataset's classes is checked by ``prepare_prompts``.

    Args:
        url: Where the authors' table is downloaded from.
        sha256: The table file's expected sha256.
        cache: Where the downloaded file is kept (a file already there is used offline).
        output: The verified copy.
        identical_prompts: Groups of classes allowed to share a prompt.
    """
    from ..models.released_prompts import fetch_prompt_table, read_released_table

    path = fetch_prompt_table(url, sha256, cache, output)
    try:
        table = read_released_table(path, identical_prompts or ())
    except Exception:
        Path(output).unlink(missing_ok=True)
        raise
    log.info("prompt table %s: %d classes, sha256 %s (from %s)", output, len(table), sha256, url)
    return path


@stage("prepare-prompts", threads=True)
def prepare_prompts(dataset_dir: str | Path, checkpoint: str | Path, model: dict, output_dir: str | Path, *,
                    prompt: dict | None = None, scoring: dict | None = None, names: dict | None = None) -> Path:
    """Encode the prompts of one dataset with one text-conditional model.

    Args:
        dataset_dir: A prepared dataset (classification or caption pairs).
        checkpoint: The model's folder or hub id.
        model: The model's config section (adapter, dtype, ...).
        output_dir: The prompt-table folder to write (appears atomically).
        prompt: ``{"template": ..., "class_names": [...]}`` or ``{"table": <released
            table>, "identical_prompts": [...]}`` for classification datasets
            (:class:`~diffusion_classifier.models.prompts.PromptSpec`; ignored for
            caption pairs, whose captions are the prompts).
        scoring: The ``scoring`` section (device).
        names: Names recorded in provenance (dataset, model).
    """
    from ..artifacts import environment, write_timing
    from ..data import load_dataset
    from ..data.pairs import is_caption_pairs, load_examples
    from ..models import ConditionSpec, adapter_uses_prompts, build_conditioning
    from ..models.prompts import PromptSpec, caption_prompts, class_prompts, write_prompt_table
    from ..specs import ModelSpec, ScoringSpec, from_dict

    model_spec = from_dict(ModelSpec, model, "model")
    if not adapter_uses_prompts(model_spec.adapter):
        raise ValueError(f"adapter {model_spec.adapter!r} is not text-conditional: it needs no prompt table")
    scoring_spec = from_dict(ScoringSpec, scoring, "scoring")
    prompt_spec = from_dict(PromptSpec, prompt, "prompt")
    dataset = load_dataset(dataset_dir)
    if is_caption_pairs(dataset):
        kind, frame = "captions", caption_prompts(load_examples(dataset))
        labels = tuple(f"{e}/{s}" for e, s in zip(frame["example_id"], frame["slot"]))
    else:
        kind, frame = "classes", class_prompts(dataset.class_table, prompt_spec)
        labels = tuple(frame["class_name"])
    predictor = model_spec.load(checkpoint, scoring_spec.device)
    start = time.perf_counter()
    embeddings = build_conditioning(model_spec.adapter, predictor,
                                    ConditionSpec(class_names=labels, prompts=tuple(frame["prompt"])))
    seconds = time.perf_counter() - start
    log.info("encoded %d %s prompts into %s in %.1f s", len(frame), kind, tuple(embeddings.shape), seconds)
    provenance = {
        **(names or {}),
        "dataset": dataset.metadata,
        "model": model,
        "model_id": predictor.model_id,
        "weights_sha256": predictor.weights_hash(),
        "prompt": _prompt_source(prompt_spec) if kind == "classes" else None,
        "max_length": getattr(predictor, "max_length", None),
        "device": str(predictor.device),
        "environment": environment(),
    }
    write_timing(output_dir, {"seconds": seconds})
    return write_prompt_table(output_dir, frame, embeddings, kind, provenance)


def _prompt_source(spec: PromptSpec) -> dict:
    """What the class prompts were made from, for provenance."""
    if spec.table is None:
        return {"template": spec.template, "class_names": spec.class_names}
    from ..artifacts.provenance import file_sha256

    return {"table": str(spec.table), "table_sha256": file_sha256(spec.table),
            "identical_prompts": [list(g) for g in spec.identical_prompts]}
