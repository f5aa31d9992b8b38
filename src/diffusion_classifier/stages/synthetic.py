"""Stages of Table 1's "Synthetic SD Data" and "SD Features" rows.

``generate_synthetic`` (one shard of images from the class prompts), ``merge_synthetic``
(the shards as one prepared dataset), ``train_synthetic_classifier`` (zoo trainer on the
synthetic images, tested on the real test split), ``extract_sd_features`` (UNet
mid-block maps at t = 100 of a real dataset's splits) and ``train_feature_classifier``
(zoo trainer on those maps). Both classifier stages write a Table 1 summary
(``baselines.summary.accuracy_summary``) and per-image predictions.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from ..baselines.zoo import ZooModelSpec
    from ..specs import FeatureSpec

__all__ = ["generate_synthetic", "merge_synthetic", "train_synthetic_classifier", "extract_sd_features",
           "train_feature_classifier", "evaluate_feature_classifier"]

log = logging.getLogger(__name__)


def _predictor(model: dict, checkpoint: str | Path, device_name: str):
    from ..specs import ModelSpec, from_dict

    model_spec = from_dict(ModelSpec, model, "model")
    predictor = model_spec.load(checkpoint, device_name)
    if not hasattr(predictor, "encode_prompts"):
        raise ValueError(f"adapter {model_spec.adapter!r} is not text-conditional: the synthetic-data and "
                         "SD-feature baselines need a Stable-Diffusion-style model")
    return predictor, model_spec


def _classifier_spec(section: dict, where: str, num_classes: int, train_dataset: str, **kwargs) -> ZooModelSpec:
    """The zoo entry of a baseline classifier, its class count and inputs filled in."""
    from ..baselines.zoo import ZooModelSpec
    from ..specs import from_dict

    spec = from_dict(ZooModelSpec, {"train_dataset": train_dataset, **section}, where)
    return replace(spec, num_classes=num_classes, kwargs={**spec.kwargs, **kwargs})


@stage("generate-synthetic", threads=True)
def generate_synthetic(dataset_dir: str | Path, prompts_dir: str | Path, checkpoint: str | Path, model: dict,
                       synthetic: dict, shard: int, output_dir: str | Path, names: dict | None = None) -> Path:
    """Generate shard ``shard`` of ``synthetic.shards`` from a dataset's prompt table."""
    from ..artifacts import environment
    from ..baselines.synthetic import generate_shard, plan_images
    from ..specs import SyntheticSpec
    from ..data import load_dataset
    from ..models.prompts import read_prompt_table
    from ..specs import from_dict

    spec = from_dict(SyntheticSpec, synthetic, "baselines.synthetic")
    if not 0 <= shard < spec.shards:
        raise ValueError(f"shard {shard} outside 0..{spec.shards - 1} (baselines.synthetic.shards)")
    dataset = load_dataset(dataset_dir)
    predictor, _ = _predictor(model, checkpoint, spec.device)
    table = read_prompt_table(prompts_dir, predictor.device, predictor.dtype)
    embeddings = table.for_classes(dataset.classes, predictor.weights_hash())
    plan = plan_images(table.frame, spec.images_per_class, spec.seed, spec.shards)
    start = time.perf_counter()
    out = generate_shard(predictor, plan, embeddings, spec, output_dir, shard, {
        **(names or {}), "model_id": predictor.model_id, "weights_sha256": predictor.weights_hash(),
        "prompt_table": str(prompts_dir), "environment": environment()})
    log.info("generated %d images in %.1f s", int((plan["shard"] == shard).sum()), time.perf_counter() - start)
    return out


@stage("merge-synthetic")
def merge_synthetic(shard_dirs: list[str], real_dataset_dir: str | Path, output_dir: str | Path,
                    dataset_name: str) -> Path:
    """The generation shards as one prepared dataset."""
    from ..baselines.synthetic import merge_shards

    return merge_shards(shard_dirs, real_dataset_dir, output_dir, dataset_name)


def _write_result(predictions: pd.DataFrame, summary: dict, predictions_path: str | Path,
                  summary_path: str | Path) -> dict:
    from ..artifacts import write_frame, write_json

    write_frame(predictions, predictions_path)
    write_json(summary_path, summary)
    log.info("accuracy %.4f on %d images", summary["accuracy"], summary["num_images"])
    return summary


@stage("train-synthetic-classifier", threads=True)
def train_synthetic_classifier(synthetic_dir: str | Path, real_dataset_dir: str | Path, synthetic: dict,
                               output_checkpoint: str | Path, output_predictions: str | Path,
                               output_summary: str | Path, names: dict | None = None) -> dict:
    """Train ``synthetic.classifier`` on generated images only; test it on the real split."""
    from ..artifacts import code_version
    from ..baselines.summary import accuracy_summary
    from ..specs import SyntheticSpec
    from ..baselines.zoo import load_trained
    from ..baselines.zoo_evaluation import ClassMapping, evaluate_classifier
    from ..baselines.zoo_training import train_zoo_classifier
    from ..data import load_dataset
    from ..specs import from_dict

    spec = from_dict(SyntheticSpec, synthetic, "baselines.synthetic")
    train_set, real = load_dataset(synthetic_dir), load_dataset(real_dataset_dir)
    classifier = _classifier_spec(spec.classifier, "baselines.synthetic.classifier", len(real.classes),
                                  train_set.name)
    train_zoo_classifier(train_set, classifier, output_checkpoint, "synthetic_sd_data")
    net = load_trained(output_checkpoint).to(_training_device(classifier))
    # Trained on the real dataset's own labels (the generated images carry them), so its
    # outputs are those labels, not the model ids of `class_ids` (ObjectNet: ImageNet ids).
    mapping = ClassMapping.identity(len(real.classes))
    predictions = evaluate_classifier(net, real, classifier.transform, mapping, spec.evaluation_split,
                                      spec.batch_size_eval)
    summary = {**accuracy_summary(predictions["label"], predictions["prediction"]), **(names or {}),
               "row": "synthetic_sd_data", "split": spec.evaluation_split,
               "num_train_images": len(train_set.split("train")), "images_per_class": spec.images_per_class,
               "sampling_steps": spec.steps, "guidance_scale": spec.guidance_scale,
               "classifier": classifier.architecture, "checkpoint": str(output_checkpoint),
               "code_version": code_version()}
    return _write_result(predictions, summary, output_predictions, output_summary)


@stage("extract-sd-features", threads=True)
def extract_sd_features(dataset_dir: str | Path, checkpoint: str | Path, model: dict, features: dict,
                        output_dir: str | Path, names: dict | None = None) -> Path:
    """Mid-block maps at ``features.timestep`` of every configured split (fp16 safetensors + index)."""
    from ..artifacts import environment, write_timing
    from ..baselines.sd_features import extract_split, split_batches, write_features
    from ..specs import FeatureSpec
    from ..data import load_dataset
    from ..specs import from_dict

    spec = from_dict(FeatureSpec, features, "baselines.features")
    dataset = load_dataset(dataset_dir)
    wanted = spec.splits_of((names or {}).get("dataset", dataset.name))
    predictor, model_spec = _predictor(model, checkpoint, spec.device)
    condition = predictor.encode_prompts([spec.prompt])
    provenance = {
        **(names or {}), "model_id": predictor.model_id, "weights_sha256": predictor.weights_hash(),
        "timestep": spec.timestep, "prompt": spec.prompt, "seed": spec.seed, "dataset": dataset.metadata,
        "environment": environment()}
    start = time.perf_counter()
    if spec.shard_size is not None:  # extracted while written, shard by shard: never the whole split in memory
        splits = {split: split_batches(predictor, dataset, split, spec, model_spec.transform, condition)
                  for split in wanted}
        written = write_features(output_dir, splits, provenance, shard_size=spec.shard_size)
        seconds = time.perf_counter() - start
        log.info("extracted %s in shards of %d in %.1f s", wanted, spec.shard_size, seconds)
        write_timing(output_dir, {"seconds": seconds})  # after: the extraction is the writing
        return written
    splits = {split: extract_split(predictor, dataset, split, spec, model_spec.transform, condition)
              for split in wanted}
    seconds = time.perf_counter() - start
    log.info("extracted %s in %.1f s", {s: tuple(v[0].shape) for s, v in splits.items()}, seconds)
    write_timing(output_dir, {"seconds": seconds})
    return write_features(output_dir, splits, provenance)


def _training_device(classifier: ZooModelSpec) -> torch.device:
    """Where a baseline classifier trains (its ``train.device``); it is evaluated there too."""
    from ..baselines.zoo_training import ZooTrainConfig
    from ..specs import from_dict, resolve_device

    return resolve_device(from_dict(ZooTrainConfig, classifier.train, "classifier.train").device)


def _predict(net: torch.nn.Module, features: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted classes of ``features`` on ``net``'s device, returned on the CPU."""
    import torch

    device = next(net.parameters()).device
    with torch.no_grad():
        return torch.cat([net(features[i:i + batch_size].to(device)).argmax(1).cpu()
                          for i in range(0, len(features), batch_size)])


@stage("train-feature-classifier", threads=True)
def train_feature_classifier(features_dir: str | Path, dataset_dir: str | Path, features: dict,
                             output_checkpoint: str | Path, output_predictions: str | Path, output_summary: str | Path,
                             names: dict | None = None, train_features_dir: str | Path | None = None,
                             train_dataset_dir: str | Path | None = None) -> dict:
    """Train ``features.classifier`` on the train maps with real labels; test on the evaluation split.

    With ``train_features_dir`` / ``train_dataset_dir`` (``features.train_from``) the train
    maps and classes come from that other dataset (ImageNet train for the 2,000 ImageNet
    validation images), and the test images are scored through their class map.
    """
    import pandas as pd

    from ..artifacts import code_version
    from ..baselines.sd_features import read_features, train_stream
    from ..specs import FeatureSpec
    from ..baselines.summary import accuracy_summary
    from ..baselines.zoo import load_trained
    from ..baselines.zoo_training import ZooTrainConfig, train_on_stream, train_on_tensors
    from ..data import load_dataset
    from ..specs import from_dict, resolve_device

    spec = from_dict(FeatureSpec, features, "baselines.features")
    dataset = load_dataset(dataset_dir)
    if (train_features_dir is None) != (train_dataset_dir is None):
        raise ValueError("give both the train features and the train dataset of features.train_from, or neither")
    train_set = load_dataset(train_dataset_dir) if train_dataset_dir is not None else dataset
    stream = train_stream(train_features_dir or features_dir)  # sharded (features.shard_size): streamed
    if stream is None:
        train_x, train_y = read_features(train_features_dir or features_dir, "train")
        count, shape = len(train_y), tuple(train_x.shape[1:])
    else:
        count, shape = len(stream), stream.feature_shape
    classifier = _classifier_spec(spec.classifier, "baselines.features.classifier", len(train_set.classes),
                                  f"{train_set.name} features", in_chans=int(shape[0]))
    if classifier.train is None:
        raise ValueError("baselines.features.classifier needs a 'train' section: it is trained on the features")
    config = from_dict(ZooTrainConfig, classifier.train, "baselines.features.classifier.train")
    if stream is None:
        train_on_tensors(train_x, train_y, classifier, config, output_checkpoint, "sd_features", train_set.name)
        del train_x, train_y
    else:
        train_on_stream(stream, classifier, config, output_checkpoint, "sd_features", train_set.name)
    record = {"num_train_images": count, "feature_shape": list(shape), "classifier": classifier.architecture}
    if train_dataset_dir is not None:
        record["train_dataset"] = str(train_set.metadata.get("name", train_set.name))
        return _evaluate_features(output_checkpoint, features_dir, dataset, len(train_set.classes), spec, config,
                                  output_predictions, output_summary, names, record)
    test_x, test_y = read_features(features_dir, spec.evaluation_split)
    predicted = _predict(load_trained(output_checkpoint).to(resolve_device(config.device)), test_x).numpy()
    index = pd.read_csv(Path(features_dir) / spec.evaluation_split / "index.csv", dtype={"image_id": str})
    predictions = pd.DataFrame({"image_id": index["image_id"], "label": test_y.numpy(), "prediction": predicted,
                                "correct": test_y.numpy() == predicted})
    summary = {**accuracy_summary(test_y.numpy(), predicted), **(names or {}), "row": "sd_features",
               "split": spec.evaluation_split, "num_train_images": record["num_train_images"],
               "feature_shape": record["feature_shape"], "timestep": spec.timestep,
               "classifier": record["classifier"], "checkpoint": str(output_checkpoint),
               "code_version": code_version()}
    return _write_result(predictions, summary, output_predictions, output_summary)


def _logits(net: torch.nn.Module, features: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    import torch

    device = next(net.parameters()).device
    with torch.no_grad():
        return torch.cat([net(features[i:i + batch_size].to(device)).float().cpu()
                          for i in range(0, len(features), batch_size)])


def _evaluate_features(checkpoint_dir, features_dir, dataset, num_model_classes: int, spec: FeatureSpec, config,
                       predictions_path, summary_path, names: dict | None, record: dict) -> dict:
    """Score a dataset's evaluation maps with a classifier trained on another dataset's classes."""
    import pandas as pd

    from ..artifacts import code_version
    from ..baselines.sd_features import read_features
    from ..baselines.summary import accuracy_summary
    from ..baselines.zoo import load_trained
    from ..baselines.zoo_evaluation import class_mapping, mapped_predictions
    from ..specs import resolve_device

    test_x, test_y = read_features(features_dir, spec.evaluation_split)
    net = load_trained(checkpoint_dir).to(resolve_device(config.device))
    index = pd.read_csv(Path(features_dir) / spec.evaluation_split / "index.csv", dtype={"image_id": str})
    mapping = class_mapping(dataset, None, num_model_classes)
    predictions = mapped_predictions(_logits(net, test_x), index["image_id"], test_y.numpy(), dataset.classes,
                                     mapping)
    summary = {**accuracy_summary(predictions["label"].to_numpy(), predictions["prediction"].to_numpy()),
               **(names or {}), "row": "sd_features", "split": spec.evaluation_split, **record,
               "timestep": spec.timestep, "checkpoint": str(checkpoint_dir), "code_version": code_version()}
    return _write_result(predictions, summary, predictions_path, summary_path)


@stage("evaluate-feature-classifier", threads=True)
def evaluate_feature_classifier(features_dir: str | Path, dataset_dir: str | Path, features: dict,
                                checkpoint: str | Path, trained_summary: str | Path, output_predictions: str | Path,
                                output_summary: str | Path, names: dict | None = None) -> dict:
    """Score a column with another column's trained classifier (``features.classifier_from``).

    ObjectNet has no train split: the paper's cell comes from the ImageNet-trained
    classifier, its 1000-way prediction right when it falls among the ImageNet ids of the
    image's ObjectNet class.

    Args:
        checkpoint: The trained classifier of the other column.
        trained_summary: That classifier's training summary (JSON).
    """
    from ..specs import FeatureSpec
    from ..baselines.zoo import CHECKPOINT_CONFIG
    from ..baselines.zoo_training import ZooTrainConfig
    from ..data import load_dataset
    from ..specs import from_dict

    spec = from_dict(FeatureSpec, features, "baselines.features")
    trained = json.loads(Path(trained_summary).read_text())
    saved = json.loads((Path(checkpoint) / CHECKPOINT_CONFIG).read_text())
    num_model_classes = int(saved["spec"]["num_classes"])
    config = from_dict(ZooTrainConfig, spec.classifier.get("train") or {}, "baselines.features.classifier.train")
    record = {"num_train_images": trained["num_train_images"], "feature_shape": trained["feature_shape"],
              "classifier": trained["classifier"], "train_dataset": trained.get("train_dataset", trained["dataset"]),
              "classifier_from": trained["dataset"]}
    return _evaluate_features(checkpoint, features_dir, load_dataset(dataset_dir), num_model_classes, spec,
                              config, output_predictions, output_summary, names, record)
