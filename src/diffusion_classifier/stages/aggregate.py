"""Stage ``aggregate_scores``: shards of one dataset x model x strategy -> predictions.

Writes the per-image predictions (one Parquet file) and a summary (JSON) with the
accuracy, its 99.5% Clopper-Pearson interval, mean-per-class accuracy, passes per
image, and the provenance of every shard that went in. No measured time: the runtime
table reads it from the shards' timing files (:mod:`~diffusion_classifier.artifacts.timing`).

Nothing a shard says is taken on trust: its files must match their recorded sha256
(:func:`~diffusion_classifier.artifacts.verify_shard`), the shards must be one run
(identical settings, shards ``0..n-1`` once each, scored on this dataset's content)
covering exactly the split's images, and every prediction, kept list, pass count and
``correct`` flag is recomputed from the stored errors with the run's own schedule
(:func:`~diffusion_classifier.engine.replay.replay_schedule`) before it is counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..runs.inputs import shard_rows
from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["aggregate_scores", "check_one_run", "summarise_predictions", "verified_images"]


def check_one_run(shard_dirs: list[Path], dataset) -> list[dict]:
    """Provenances of shards that form one run on ``dataset``, else a :class:`ShardError`.

    One run: every setting but the shard index is identical, the indices are exactly
    ``0..num_shards-1``, and the dataset content the shards were scored on is this one.
    """
    from ..artifacts import ShardError, verify_shard

    if not shard_dirs:
        raise ShardError("no shards to aggregate: give the shard directories of one run")
    provenances = [verify_shard(p) for p in shard_dirs]
    first = provenances[0]["settings"]
    for path, provenance in zip(shard_dirs[1:], provenances[1:]):
        other = provenance["settings"]
        differ = sorted(k for k in set(first) | set(other) if k != "shard" and first.get(k) != other.get(k))
        if differ:
            raise ShardError(f"{path} was scored with other settings than {shard_dirs[0]} ({', '.join(differ)}): "
                             "aggregate shards of one run only, or rescore them")
    indices = sorted(p["settings"]["shard"] for p in provenances)
    if indices != list(range(first["num_shards"])):
        raise ShardError(f"shards {indices} of {shard_dirs[0].parent} are not shards 0..{first['num_shards'] - 1} "
                         "once each: give every shard of the run exactly once")
    if first.get("dataset_sha256") != dataset.content_sha256:
        raise ShardError(f"{shard_dirs[0]} was scored on other contents of {dataset.root} (its manifest or classes "
                         "changed since): rescore the run")
    return provenances


def verified_images(shard_dirs: list[Path], dataset) -> tuple[pd.DataFrame, list[dict]]:
    """Per-image outcomes of one run, each recomputed from its stored errors, and provenances.

    Raises:
        ShardError: see :func:`check_one_run`; a shard does not hold exactly its share
            of the split; an error is non-finite; or a stored outcome differs from the
            one its errors give.
    """
    import pandas as pd

    from ..artifacts import ShardError, read_images

    provenances = check_one_run(shard_dirs, dataset)
    settings = provenances[0]["settings"]
    split = dataset.split(settings["split"])
    frames = []
    for path, provenance in zip(shard_dirs, provenances):
        expected = set(shard_rows(split, provenance["settings"]["shard"], settings["num_shards"],
                                  first=settings.get("max_images"))["image_id"])
        images = read_images([path])
        found = set(images["image_id"])
        if found != expected or len(images) != len(found):
            raise ShardError(f"{path} holds {len(images)} images but its share of split {settings['split']!r} "
                             f"is {len(expected)} (missing {sorted(expected - found)[:3]}, foreign "
                             f"{sorted(found - expected)[:3]}): rescore the shard")
        frames.append(_recomputed(path, images, provenance))
    return pd.concat(frames, ignore_index=True), provenances


def _recomputed(path: Path, images: pd.DataFrame, provenance: dict) -> pd.DataFrame:
    """``images`` after checking every stored outcome against a replay of its errors."""
    import numpy as np

    from ..artifacts import ERROR_PREFIX, ShardError, read_errors
    from ..engine.replay import error_cube, replay_scored_run

    if images.empty:
        return images
    config = provenance["settings"]["scoring_config"]
    errors = read_errors([path], columns=["image_id", "condition", "grid_index", "timestep",
                                          ERROR_PREFIX + config["loss"]])
    values = errors[ERROR_PREFIX + config["loss"]].to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        row = errors.loc[np.flatnonzero(bad)[0]]
        raise ShardError(f"{path}: non-finite {config['loss']} error for image {row['image_id']!r}, timestep "
                         f"{row['timestep']}, class {row['condition']}: refusing to rank on it; rescore the shard")
    cube = error_cube(errors, images, config["loss"], provenance["num_classes"], complete=False)
    try:
        replay = replay_scored_run(cube, config)
    except ValueError as exc:
        raise ShardError(f"{path}: {exc}") from None
    stored = images.set_index("image_id").loc[cube.image_ids]
    labels_of = np.asarray(provenance.get("candidate_labels") or range(provenance["num_classes"]))
    prediction = labels_of[replay.predictions]
    pairs = errors.groupby("image_id").size().reindex(cube.image_ids).to_numpy()
    checks = {
        "predicted_condition": stored["predicted_condition"].to_numpy() == replay.predictions,
        "prediction": stored["prediction"].to_numpy() == prediction,
        "correct": stored["correct"].to_numpy() == (stored["label"].to_numpy() == prediction),
        "passes": (stored["passes"].to_numpy() == replay.passes) & (pairs == replay.passes),
        "kept": np.array([[list(k) for k in kept] == [list(map(int, s[i][s[i] >= 0])) for s in replay.kept
                                                      if (s[i] >= 0).any()]
                          for i, kept in enumerate(stored["kept"])], dtype=bool),
    }
    for column, ok in checks.items():
        if not ok.all():
            image = cube.image_ids[np.flatnonzero(~ok)[0]]
            raise ShardError(f"{path}: the stored {column} of image {image!r} is not what its stored errors give: "
                             "the shard was altered or written by other code; rescore it")
    return images


def summarise_predictions(images: pd.DataFrame, num_classes: int) -> dict:
    """Accuracy figures of a table of per-image outcomes."""
    from ..robustness import accuracy_counts

    if images.empty:
        raise ValueError("no scored images to aggregate: every shard is empty")
    return {
        **accuracy_counts(images["label"], images["correct"]),
        "num_classes": num_classes,
        "passes_per_image": float(images["passes"].mean()),
    }


@stage("aggregate-scores")
def aggregate_scores(shard_dirs: list[str | Path], dataset_dir: str | Path, output_predictions: str | Path,
                     output_summary: str | Path, names: dict | None = None) -> dict:
    """Verify the shards of one run (:func:`verified_images`) and summarise their outcomes."""
    from ..artifacts import write_frame, write_json
    from ..data import load_dataset

    shard_dirs = [Path(p) for p in shard_dirs]
    dataset = load_dataset(dataset_dir)
    images, provenances = verified_images(shard_dirs, dataset)
    images = images.sort_values("image_id", kind="stable").reset_index(drop=True)
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
    write_frame(table, output_predictions)
    write_json(output_summary, summary)
    return summary


