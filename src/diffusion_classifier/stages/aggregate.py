"""Stage ``aggregate_scores``: shards of one dataset x model x strategy -> predictions.

Writes the per-image predictions (one Parquet file) and a summary (JSON) with the
accuracy, its 99.5% Clopper-Pearson interval, mean-per-class accuracy, passes and
seconds per image, and the provenance of every shard that went in.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import atomic_path, read_images, write_json
from ..data import load_dataset
from ..robustness import clopper_pearson

__all__ = ["aggregate_scores", "summarise_predictions"]


def summarise_predictions(images: pd.DataFrame, num_classes: int) -> dict:
    """Accuracy figures of a table of per-image outcomes."""
    if images.empty:
        raise ValueError("no scored images to aggregate: every shard is empty")
    n, correct = len(images), int(images["correct"].sum())
    low, high = clopper_pearson(correct, n)
    per_class = images.groupby("label")["correct"].mean()
    return {
        "num_images": n,
        "num_correct": correct,
        "accuracy": correct / n,
        "accuracy_ci_low": float(low),
        "accuracy_ci_high": float(high),
        "mean_per_class_accuracy": float(per_class.mean()),
        "classes_present": int(len(per_class)),
        "num_classes": num_classes,
        "passes_per_image": float(images["passes"].mean()),
        "seconds_per_image": float(images["seconds"].mean()),
    }


def aggregate_scores(shard_dirs: list[str | Path], dataset_dir: str | Path, predictions_path: str | Path,
                     summary_path: str | Path, names: dict | None = None) -> dict:
    """Concatenate the shards' per-image outcomes and summarise them."""
    shard_dirs = [Path(p) for p in shard_dirs]
    images = read_images(shard_dirs).sort_values("image_id", kind="stable").reset_index(drop=True)
    if images["image_id"].duplicated().any():
        raise ValueError(f"an image was scored by two shards among {shard_dirs}: check the shard settings")
    dataset = load_dataset(dataset_dir)
    provenances = [json.loads((p / "provenance.json").read_text()) for p in shard_dirs]
    summary = {
        **(names or {}),
        **summarise_predictions(images, len(dataset.classes)),
        "passes_per_image_planned": provenances[0].get("passes_per_image_planned"),
        "scoring_config": provenances[0]["settings"]["scoring_config"],
        "model_id": provenances[0]["model_id"],
        "weights_sha256": provenances[0]["weights_sha256"],
        "shards": [
            {"path": str(p), "config_hash": v["config_hash"], "code_version": v["code_version"],
             "device": v["device"], "num_images": v.get("num_images")}
            for p, v in zip(shard_dirs, provenances)
        ],
    }
    table = images.assign(kept=images["kept"].map(lambda k: json.dumps([list(map(int, s)) for s in k])),
                          label_name=[dataset.classes[i] for i in images["label"]],
                          prediction_name=[dataset.classes[i] for i in images["prediction"]])
    with atomic_path(predictions_path) as tmp:
        table.to_parquet(tmp, index=False)
    write_json(summary_path, summary)
    return summary


