"""Stages of the CLIP baselines and Table 1: ``clip_zero_shot``, ``clip_winoground``, ``make_table1``.

A baseline whose model cannot be loaded here (open_clip missing, weights not available
offline) still writes its outputs: an empty prediction table and a summary with
``status: unavailable`` and the reason, which Table 1 prints as "n/a (reason)". With
``required: true`` in the model's spec the stage fails instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ._outputs import table_stem
from ._registry import stage

if TYPE_CHECKING:
    from ..specs import ClipModelSpec

__all__ = ["clip_zero_shot", "clip_winoground", "make_table1"]

log = logging.getLogger(__name__)


def _load_or_none(spec: ClipModelSpec, device):
    """The model, or ``None`` and an unavailable summary when it cannot be had offline."""
    from ..baselines import ClipUnavailable, load_clip_model, unavailable_summary

    try:
        return load_clip_model(spec, device), None
    except ClipUnavailable as exc:
        if spec.required:
            raise RuntimeError(f"{spec.model_id} is required but cannot be loaded: {exc}") from exc
        log.warning("%s reported as n/a: %s", spec.model_id, exc)
        return None, unavailable_summary(exc.reason, exc.detail)


def _clip_texts(dataset, template: str, prompt: dict | None) -> tuple[str, list[str]]:
    """CLIP's text per class: the released table's prompts where the dataset has one, else the template."""
    if prompt and prompt.get("table"):
        from ..models.prompts import PromptSpec, class_prompts as table_prompts
        from ..specs import from_dict

        frame = table_prompts(dataset.class_table, from_dict(PromptSpec, prompt, "prompt"))
        return str(frame["template"].iloc[0]), frame["prompt"].tolist()
    from ..baselines import class_prompts

    return template, class_prompts(template, dataset.classes)


@stage("clip-zero-shot", threads=True)
def clip_zero_shot(dataset_dir: str | Path, clip_model: dict, zero_shot: dict, output_predictions: str | Path,
                   output_summary: str | Path, names: dict, *, prompt: dict | None = None) -> dict:
    """Zero-shot classify one dataset's split with one CLIP model (Table 1 row).

    Args:
        dataset_dir: Prepared dataset.
        clip_model: The model's ``baselines.clip_models`` entry.
        zero_shot: The ``baselines.zero_shot`` section.
        output_predictions: Per-image predictions and cosine logits (Parquet).
        output_summary: Summary JSON in the Table 1 format (``baselines.summary``).
        names: ``{"model": ..., "dataset": ...}``: config names, recorded and used to pick
            the prompt template.
        prompt: The Diffusion Classifier's prompt source of the dataset (``prepare_prompts``'
            ``prompt``); when it names the authors' released table, CLIP reads the same
            texts (Pets' " cat"/" dog" wording included); otherwise the zero-shot template.
    """
    import pandas as pd

    from ..artifacts import code_version, write_frame, write_json
    from ..baselines import accuracy_summary, zero_shot_predict
    from ..specs import ClipModelSpec
    from ..data import load_dataset
    from ..specs import ZeroShotSpec, from_dict, resolve_device

    spec = from_dict(ClipModelSpec, clip_model, f"baselines.clip_models.{names.get('model')}")
    settings = from_dict(ZeroShotSpec, zero_shot, "baselines.zero_shot")
    dataset = load_dataset(dataset_dir)
    rows = dataset.split(settings.split)
    template, prompts = _clip_texts(dataset, settings.template(names["dataset"]), prompt)
    record = {**names, "row": spec.table1_row, "label": spec.label, "model_id": spec.model_id,
              "split": settings.split, "prompt_template": template, "num_classes": len(prompts),
              "code_version": code_version()}

    clip, unavailable = _load_or_none(spec, resolve_device(settings.device))
    if clip is None:
        write_frame(pd.DataFrame({"image_id": pd.Series(dtype=str), "label": pd.Series(dtype=int),
                                     "prediction": pd.Series(dtype=int), "correct": pd.Series(dtype=bool)}),
                       output_predictions)
        summary = {**record, **unavailable}
        write_json(output_summary, summary)
        return summary

    images = (image for _, image in dataset.iter_images(rows))
    predictions, logits = zero_shot_predict(clip, images, prompts, settings.batch_size, total=len(rows))
    labels = rows["label"].to_numpy()
    table = pd.DataFrame({
        "image_id": rows["image_id"], "label": labels, "prediction": predictions,
        "correct": labels == predictions,
        "label_name": [dataset.classes[i] for i in labels],
        "prediction_name": [dataset.classes[i] for i in predictions],
        "logits": list(logits.astype("float32")),
    })
    write_frame(table, output_predictions)
    summary = {**record, **accuracy_summary(labels, predictions), "weights": clip.weights,
               "device": str(clip.device)}
    write_json(output_summary, summary)
    return summary


@stage("clip-winoground", threads=True)
def clip_winoground(dataset_dir: str | Path, clip_model: dict, winoground: dict, output_examples: str | Path,
                    output_summary: str | Path, names: dict, split: str = "test") -> dict:
    """Winoground text / image / group scores of one CLIP model (Table 3 baseline rows).

    Args:
        dataset_dir: The prepared caption-pair dataset (:mod:`..data.pairs`): its
            ``examples.csv`` names images by manifest image id, opened through the manifest.
        split: Manifest split whose examples are scored.
    """
    from ..artifacts import code_version, write_frame, write_json
    from ..baselines import clip_pair_scores
    from ..specs import ClipModelSpec
    from ..compositional import example_scores, summarise_examples
    from ..data import load_dataset
    from ..data.images import convert_image
    from ..data.pairs import load_examples
    from ..specs import WinogroundBaselineSpec, from_dict, resolve_device

    spec = from_dict(ClipModelSpec, clip_model, f"baselines.clip_models.{names.get('model')}")
    settings = from_dict(WinogroundBaselineSpec, winoground, "baselines.winoground")
    dataset = load_dataset(dataset_dir)
    examples = load_examples(dataset, split)
    manifest = dataset.manifest.set_index(dataset.manifest["image_id"].astype(str), drop=False)
    record = {**names, "label": spec.label, "model_id": spec.model_id, "num_examples": len(examples),
              "code_version": code_version()}

    clip, unavailable = _load_or_none(spec, resolve_device(settings.device))
    if clip is None:
        write_frame(examples[["id", "collapsed_tag"]].iloc[:0], output_examples)
        summary = {**record, **unavailable, "subsets": None}
        write_json(output_summary, summary)
        return summary

    def load_image(image_id):
        return convert_image(dataset.load_image(manifest.loc[str(image_id)]), "RGB", name=str(image_id))

    per_example = example_scores(examples, clip_pair_scores(clip, examples, load_image, settings.batch_size))
    write_frame(per_example, output_examples)
    summary = {**record, "status": "ok", "reason": None, "weights": clip.weights,
               "subsets": summarise_examples(per_example, ("collapsed_tag",))}
    write_json(output_summary, summary)
    return summary


@stage("make-table1")
def make_table1(
    sources: dict[str, dict[str, str]], datasets: list[str], output_md: str | Path, output_csv: str | Path
) -> tuple:
    """Write ``output_md`` (paper layout) and ``output_csv`` (one row per cell).

    Args:
        sources: Row key -> dataset -> summary JSON; cells without one are "n/a (not run)".
        datasets: Table columns, in order.
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
    """
    from ..reporting.cells import write_cells_and_display
    from ..reporting.table1 import table1_caption, table1_cells, table1_display

    cells = table1_cells(sources, datasets)
    return write_cells_and_display(
        cells, table1_display(cells), table1_caption(cells), table_stem(output_md, output_csv)
    )
