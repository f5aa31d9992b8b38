"""The error store: one directory per scoring shard, columnar and resumable.

Layout of a finished shard ``.../shard-003/``::

    errors.parquet     one row per evaluated (image, class, timestep, noise) pair:
                       image_id, condition, timestep, grid_index (= noise index),
                       stage, and one float32 column per objective ("error_l2", ...)
    images.parquet     one row per image: image_id, label, prediction (a label),
                       predicted_condition, correct, seed, passes, seconds, kept
                       (conditions kept after each stage)
    provenance.json    model id and weights hash, config and its hash, code version,
                       environment, seeds, timing

A paper-scale DiT run (10,000 images x 1,000 classes x 250 timesteps) is 2.5e9 pairs:
errors are float32 (4 bytes) and the key columns are sorted runs that Parquet's
dictionary and run-length encodings shrink to a fraction of a byte per row, so a shard
stays under 4 bytes per stored error and can be read column by column, or filtered by
image, without loading the whole file.

While a shard is being scored, finished images are checkpointed to
``shard-003.partial/`` in chunks; a rerun after preemption validates the run key
and scores only the images not yet done. The finished directory appears atomically.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .provenance import atomic_directory, atomic_path, write_json

if TYPE_CHECKING:  # annotations only: a runtime import would be circular (engine -> models -> artifacts)
    from ..engine.scoring import ImageScores

__all__ = ["Shard", "ShardWriter", "read_shard", "read_images", "read_errors", "ERROR_PREFIX"]

log = logging.getLogger(__name__)

ERROR_PREFIX = "error_"
_PARQUET_OPTIONS = dict(compression="zstd", compression_level=9)
_KEY_COLUMNS = ["image_id", "condition", "timestep", "grid_index", "stage"]
IMAGES_SCHEMA_COLUMNS = (
    "image_id", "label", "prediction", "predicted_condition", "correct", "seed", "passes", "seconds", "kept"
)


def _errors_table(image_id: str, scores: ImageScores) -> pa.Table:
    n = len(scores.condition)
    columns = {
        "image_id": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([image_id])),
        "condition": pa.array(scores.condition.astype(np.int16)),
        "timestep": pa.array(scores.timestep.astype(np.int16)),
        "grid_index": pa.array(scores.grid_index.astype(np.int16)),
        "stage": pa.array(scores.stage.astype(np.int8)),
    }
    for name, values in scores.errors.items():
        columns[ERROR_PREFIX + name] = pa.array(values.astype(np.float32))
    return pa.table(columns)


def _images_row(image_id: str, label: int, seed: int, scores: ImageScores, predicted_label: int | None) -> dict:
    prediction = int(scores.prediction if predicted_label is None else predicted_label)
    return {
        "image_id": image_id,
        "label": int(label),
        "prediction": prediction,
        "predicted_condition": int(scores.prediction),
        "correct": bool(int(label) == prediction),
        "seed": int(seed),
        "passes": int(scores.passes),
        "seconds": float(scores.seconds),
        "kept": [list(map(int, k)) for k in scores.kept],
    }


def _write_errors(table: pa.Table, where: Path) -> None:
    """Keys as dictionary runs; errors byte-stream-split (dictionaries bloat floats)."""
    error_columns = [n for n in table.column_names if n.startswith(ERROR_PREFIX)]
    pq.write_table(table, where, use_dictionary=_KEY_COLUMNS, use_byte_stream_split=error_columns,
                   row_group_size=1 << 22, **_PARQUET_OPTIONS)


def _write_parquet(table: pa.Table, target: Path, writer=None) -> None:
    with atomic_path(target) as tmp:
        (writer or (lambda t, w: pq.write_table(t, w, **_PARQUET_OPTIONS)))(table, tmp)


def _images_table(rows: list[dict]) -> pa.Table:
    schema = pa.schema(
        [
            ("image_id", pa.string()),
            ("label", pa.int32()),
            ("prediction", pa.int32()),
            ("predicted_condition", pa.int32()),
            ("correct", pa.bool_()),
            ("seed", pa.int64()),
            ("passes", pa.int64()),
            ("seconds", pa.float64()),
            ("kept", pa.list_(pa.list_(pa.int32()))),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


class ShardWriter:
    """Accumulates scored images for one shard, checkpointing as it goes.

    Args:
        target: The shard directory to create.
        provenance: What made the shard; must contain ``run_key``, the hash that
            decides whether a partial checkpoint belongs to this run.
        checkpoint_every: Flush finished images to the partial directory this often.
    """

    def __init__(self, target: str | Path, provenance: dict, checkpoint_every: int = 50) -> None:
        if "run_key" not in provenance:
            raise ValueError("provenance needs a 'run_key' to validate resumed checkpoints")
        self.target = Path(target)
        self.partial = self.target.with_name(self.target.name + ".partial")
        self.provenance = dict(provenance)
        self.checkpoint_every = max(1, checkpoint_every)
        self._errors: list[pa.Table] = []
        self._images: list[dict] = []
        self._chunk = 0
        self._done: set[str] = set()
        self._resume()

    @property
    def done(self) -> set[str]:
        """Ids of images already scored (checkpointed or buffered)."""
        return self._done

    def _resume(self) -> None:
        marker = self.partial / "provenance.json"
        if not self.partial.exists():
            return
        previous = json.loads(marker.read_text()) if marker.exists() else {}
        if previous.get("run_key") != self.provenance["run_key"]:
            log.warning("discarding checkpoint %s: it belongs to another configuration", self.partial)
            shutil.rmtree(self.partial)
            return
        chunks = sorted(self.partial.glob("chunk-*.images.parquet"))
        for path in chunks:
            self._done.update(pq.read_table(path, columns=["image_id"]).column(0).to_pylist())
        self._chunk = len(chunks)
        log.info("resuming %s: %d images already scored", self.target, len(self._done))

    def add(self, image_id: str, label: int, seed: int, scores: ImageScores,
            predicted_label: int | None = None) -> None:
        """Record one scored image; checkpoints every ``checkpoint_every`` images.

        ``predicted_label`` is the label class of the winning condition when the two
        differ (a class map with several model ids per label); by default they agree.
        """
        self._errors.append(_errors_table(image_id, scores))
        self._images.append(_images_row(image_id, label, seed, scores, predicted_label))
        self._done.add(image_id)
        if len(self._images) >= self.checkpoint_every:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write buffered images as one chunk of the partial directory."""
        if not self._images:
            return
        self.partial.mkdir(parents=True, exist_ok=True)
        if not (self.partial / "provenance.json").exists():
            write_json(self.partial / "provenance.json", self.provenance)
        stem = self.partial / f"chunk-{self._chunk:05d}"
        # The errors chunk goes first: a chunk counts as done once its images file exists.
        _write_parquet(pa.concat_tables(self._errors, promote_options="permissive"),
                       Path(f"{stem}.errors.parquet"), _write_errors)
        _write_parquet(_images_table(self._images), Path(f"{stem}.images.parquet"))
        self._chunk += 1
        self._errors, self._images = [], []

    def finalize(self, extra_provenance: dict | None = None) -> Path:
        """Merge all chunks into the finished shard directory, atomically."""
        self.checkpoint()
        chunk_images = sorted(self.partial.glob("chunk-*.images.parquet"))
        if chunk_images:
            images = pa.concat_tables([pq.read_table(p) for p in chunk_images])
            errors = pa.concat_tables(
                [pq.read_table(Path(str(p).replace(".images.", ".errors."))) for p in chunk_images],
                promote_options="permissive",
            ).unify_dictionaries()
        else:
            images = _images_table([])
            errors = None
        provenance = {**self.provenance, **(extra_provenance or {})}
        provenance["num_images"] = images.num_rows
        provenance["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        with atomic_directory(self.target) as tmp:
            pq.write_table(images, tmp / "images.parquet", **_PARQUET_OPTIONS)
            if errors is not None:
                _write_errors(errors, tmp / "errors.parquet")
            else:
                pq.write_table(pa.table({"image_id": pa.array([], pa.string())}), tmp / "errors.parquet")
            write_json(tmp / "provenance.json", provenance)
        shutil.rmtree(self.partial, ignore_errors=True)
        return self.target


@dataclass(frozen=True)
class Shard:
    """A finished shard, read back."""

    errors: pd.DataFrame
    images: pd.DataFrame
    provenance: dict


def _check_shard(path: Path) -> None:
    missing = [n for n in ("errors.parquet", "images.parquet", "provenance.json") if not (path / n).exists()]
    if missing:
        raise FileNotFoundError(
            f"{path} is not a finished shard (missing {', '.join(missing)}); "
            "rerun its score_shard job to produce it"
        )


def read_shard(path: str | Path, error_columns: list[str] | None = None) -> Shard:
    """Read one shard; ``error_columns`` limits which objectives are loaded."""
    path = Path(path)
    _check_shard(path)
    columns = None
    if error_columns is not None:
        columns = ["image_id", "condition", "timestep", "grid_index", "stage"] + [
            ERROR_PREFIX + c for c in error_columns
        ]
    return Shard(
        errors=pq.read_table(path / "errors.parquet", columns=columns).to_pandas(),
        images=pq.read_table(path / "images.parquet").to_pandas(),
        provenance=json.loads((path / "provenance.json").read_text()),
    )


def read_images(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Per-image outcomes of several shards, concatenated."""
    frames = []
    for path in map(Path, paths):
        _check_shard(path)
        frames.append(pq.read_table(path / "images.parquet").to_pandas())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=IMAGES_SCHEMA_COLUMNS)


def read_errors(paths: Iterable[str | Path], image_ids: list[str] | None = None) -> pd.DataFrame:
    """Per-pair errors of several shards, optionally only for some images."""
    frames = []
    for path in map(Path, paths):
        _check_shard(path)
        filters = [("image_id", "in", image_ids)] if image_ids is not None else None
        frames.append(pq.read_table(path / "errors.parquet", filters=filters).to_pandas())
    frame = pd.concat(frames, ignore_index=True)
    frame["image_id"] = frame["image_id"].astype(str)
    return frame
