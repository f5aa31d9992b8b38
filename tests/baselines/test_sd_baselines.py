"""Table 1's Synthetic SD Data and SD Features baselines on a tiny SD-2-shaped checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from diffusion_classifier.artifacts import file_sha256
from diffusion_classifier.baselines.sd_features import mid_block_features, read_features
from diffusion_classifier.baselines.synthetic import plan_images, sample_images
from diffusion_classifier.baselines.zoo import ZooModelSpec, build_zoo_model
from diffusion_classifier.data import load_dataset, write_dataset
from diffusion_classifier.models import load_predictor
from diffusion_classifier.stages.prompts import prepare_prompts
from diffusion_classifier.stages.synthetic import (extract_sd_features, generate_synthetic, merge_synthetic,
                                                   train_feature_classifier, train_synthetic_classifier)

from helpers.sd_helpers import IMAGE_SIZE

MODEL = {"adapter": "stable_diffusion", "image": {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}}
IMAGE = {"size": IMAGE_SIZE, "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3}
TRAIN = {"epochs": 1, "batch_size": 3, "seed": 0}  # 9 train maps: no batch of one for BatchNorm
SYNTHETIC = {"model": "sd", "datasets": ["tiny"], "images_per_class": 2, "steps": 2, "seed": 1, "batch_size": 3,
             "shards": 2, "device": "cpu",
             "classifier": {"architecture": "digits_cnn", "kwargs": {"width": 4}, "image": IMAGE, "train": TRAIN}}
FEATURES = {"model": "sd", "datasets": ["tiny"], "device": "cpu", "batch_size": 4,
            "classifier": {"architecture": "sd_feature_test_resnet", "train": TRAIN}}


@pytest.fixture(scope="module")
def predictor(sd):
    return load_predictor("stable_diffusion", sd)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny") / "data"
    (root / "images").mkdir(parents=True)
    rng, rows = np.random.default_rng(0), []
    for split, per_class in (("train", 3), ("test", 2)):
        for label in range(3):
            for k in range(per_class):
                image_id = f"{split}-{label}-{k}"
                Image.fromarray(rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)).save(
                    root / "images" / f"{image_id}.png")
                rows.append({"image_id": image_id, "path": f"images/{image_id}.png", "label": label, "split": split,
                             "orig_width": IMAGE_SIZE, "orig_height": IMAGE_SIZE,
                             "sha256": file_sha256(root / "images" / f"{image_id}.png")})
    return write_dataset(root, pd.DataFrame(rows), ["cat", "dog", "bird"], {"name": "tiny"})


def test_seeds_reproduce_images_and_guidance_changes_them(predictor):
    cond = predictor.encode_prompts(["a photo of a cat.", "a photo of a dog."])
    first = sample_images(predictor, cond, [5, 6], steps=2)
    assert first.shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert torch.equal(first, sample_images(predictor, cond, [5, 6], steps=2))
    assert not torch.allclose(first, sample_images(predictor, cond, [5, 7], steps=2))
    guided = sample_images(predictor, cond, [5, 6], steps=2, guidance_scale=3.0,
                           unconditional=predictor.encode_prompts([""]))
    assert not torch.allclose(first, guided)


def test_image_seeds_do_not_depend_on_the_shard_count():
    prompts = pd.DataFrame({"class_index": [0, 1], "class_name": ["a", "b"], "prompt": ["x a", "x b"]})
    one, three = plan_images(prompts, 4, 0, 1), plan_images(prompts, 4, 0, 3)
    assert list(one["seed"]) == list(three["seed"]) and one["seed"].nunique() == 8
    assert sorted(three["shard"].unique()) == [0, 1, 2]


def test_hook_returns_the_mid_block_output(predictor):
    pixels = torch.rand(2, 3, IMAGE_SIZE, IMAGE_SIZE) * 2 - 1
    cond = predictor.encode_prompts([""])
    feats = mid_block_features(predictor, pixels, [1, 2], 100, cond)
    # 16x16 images -> 8x8 latents -> one downsample -> 4x4 at the last block's 64 channels.
    assert feats.shape == (2, predictor.unet.config.block_out_channels[-1], 4, 4)
    assert torch.equal(feats, mid_block_features(predictor, pixels, [1, 2], 100, cond))
    assert not torch.allclose(feats, mid_block_features(predictor, pixels, [1, 2], 900, cond))


@pytest.mark.parametrize("name,channels", [("sd_feature_test_resnet", 64), ("sd_feature_resnet50", 1280)])
def test_feature_stem_keeps_an_8x8_map(name, channels):
    model = build_zoo_model(ZooModelSpec(architecture=name, kwargs={"in_chans": channels}, num_classes=7))
    x = torch.randn(2, channels, 8, 8)
    stem = model.maxpool(model.act1(model.bn1(model.conv1(x))))
    assert stem.shape[-2:] == (8, 8)  # the ImageNet stem would leave 2x2
    assert model(x).shape == (2, 7)


def test_stages_fill_both_table1_rows(sd, labelled, tmp_path):
    prompts = prepare_prompts(labelled, sd, MODEL, tmp_path / "prompts", prompt={"template": "a photo of a {}."},
                              scoring={"device": "cpu"})
    shards = [generate_synthetic(labelled, prompts, sd, MODEL, SYNTHETIC, s, tmp_path / f"shard-{s}")
              for s in range(2)]
    merged = load_dataset(merge_synthetic(shards, labelled, tmp_path / "synthetic", "tiny_synthetic"))
    generation = pd.read_csv(merged.root / "generation.csv")
    assert len(merged.split("train")) == 6 and set(generation["prompt"]) == {
        "a photo of a cat.", "a photo of a dog.", "a photo of a bird."}
    one_shard = generate_synthetic(labelled, prompts, sd, MODEL, {**SYNTHETIC, "shards": 1}, 0, tmp_path / "single")
    for image_id in generation["image_id"]:  # the shard split does not change any image
        assert np.array_equal(np.asarray(Image.open(one_shard / "images" / f"{image_id}.png")),
                              np.asarray(Image.open(merged.root / "images" / f"{image_id}.png")))
    summary = train_synthetic_classifier(merged.root, labelled, SYNTHETIC, tmp_path / "syn_ckpt",
                                         tmp_path / "syn.parquet", tmp_path / "syn.summary.json")
    assert summary["status"] == "ok" and summary["num_images"] == 6 and summary["num_train_images"] == 6
    assert (tmp_path / "syn_ckpt" / "model.safetensors").exists()

    feats = extract_sd_features(labelled, sd, MODEL, FEATURES, tmp_path / "features")
    train_x, train_y = read_features(feats, "train")
    assert train_x.shape == (9, 64, 4, 4) and train_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    summary = train_feature_classifier(feats, labelled, FEATURES, tmp_path / "f_ckpt", tmp_path / "f.parquet",
                                       tmp_path / "f.summary.json")
    assert json.loads((tmp_path / "f.summary.json").read_text())["accuracy"] == summary["accuracy"]
    assert summary["num_images"] == 6 and summary["feature_shape"] == [64, 4, 4]



def test_synthetic_classifier_predicts_the_datasets_own_labels(labelled, tmp_path):
    # ObjectNet-style classes carry ImageNet ids (`class_ids`) beyond its label count; a classifier
    # trained on generated images of those classes outputs the dataset's labels, not the ids.
    real = load_dataset(labelled)
    rows = real.manifest[real.manifest["split"] == "test"].assign(path=lambda f: [str(real.root / p) for p in f["path"]])
    mapped = write_dataset(tmp_path / "mapped", rows, pd.DataFrame(
        {"name": ["cat", "dog", "bird"], "class_ids": ["281;282", "207", "13"]}), {"name": "mapped"})
    summary = train_synthetic_classifier(labelled, mapped, SYNTHETIC, tmp_path / "ckpt",
                                         tmp_path / "p.parquet", tmp_path / "s.json")
    predictions = pd.read_parquet(tmp_path / "p.parquet")
    assert summary["num_images"] == 6 and set(predictions["prediction"]) <= {0, 1, 2}

# --- config sections ----------------------------------------------------------------------
@pytest.mark.parametrize("section, edit, message", [
    ("synthetic", {"model": "digits_unet"}, "not text-conditional"),
    ("features", {"datasets": ["nope"]}, "unknown dataset 'nope'"),
    ("synthetic", {"guidance_scale": 0.5}, "guidance_scale: 0.5 must be at least 1"),
    ("features", {"splits": ["test"]}, "must contain 'train'"),
])
def test_baseline_sections_are_checked(section, edit, message, mini):
    from diffusion_classifier.workflow_config import ConfigError, check_config

    config = mini
    config["baselines"][section].update(edit)
    with pytest.raises(ConfigError, match=message):
        check_config(config)


def test_mini_sections_and_paper_sections_validate(mini):
    import yaml
    from snakemake.utils import validate

    ROOT = Path(__file__).resolve().parents[2]
    SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")

    config = mini
    baselines = yaml.safe_load((ROOT / "config/paper.yaml").read_text())["baselines"]
    fragment = {key: baselines[key] for key in ("synthetic", "features")}
    validate(config, schema=SCHEMA)
    config["baselines"].update(fragment)
    validate(config, schema=SCHEMA)  # the paper-scale sections follow the same schema
    assert fragment["features"]["classifier"]["architecture"] == "sd_feature_resnet50"
    with pytest.raises(Exception, match="bogus"):
        validate({**config, "baselines": {**config["baselines"], "features": {**fragment["features"], "bogus": 1}}},
                 schema=SCHEMA)


def test_features_borrow_a_classifier_for_columns_without_a_train_split(sd, labelled, tmp_path):
    # Paper Table 1: SD Features on ImageNet (val images, the classifier learns from ImageNet
    # train) and on ObjectNet (no train split: the ImageNet classifier, mapped to its classes).
    from diffusion_classifier.stages.baselines import make_table1
    from diffusion_classifier.stages.synthetic import evaluate_feature_classifier

    from helpers.sd_helpers import write_rgb_dataset

    spec = {**FEATURES, "datasets": ["val", "objnet"], "train_from": {"val": "tiny"},
            "classifier_from": {"objnet": "val"}}
    val = write_rgb_dataset(tmp_path / "val")  # the same 3 classes, a test split only
    rng, rows = np.random.default_rng(1), []
    (tmp_path / "objnet" / "images").mkdir(parents=True)
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)).save(
            tmp_path / "objnet" / "images" / f"o{k}.png")
        rows.append({"image_id": f"o{k}", "path": f"images/o{k}.png", "label": k % 2, "split": "test",
                     "orig_width": IMAGE_SIZE, "orig_height": IMAGE_SIZE,
                     "sha256": file_sha256(tmp_path / "objnet" / "images" / f"o{k}.png")})
    objnet = write_dataset(tmp_path / "objnet", pd.DataFrame(rows),
                           pd.DataFrame({"name": ["pet", "bird"], "class_ids": ["0;1", "2"]}), {"name": "objnet"})

    names = {"model": "sd"}
    train_feats = extract_sd_features(labelled, sd, MODEL, spec, tmp_path / "f_tiny", names={**names, "dataset": "tiny"})
    val_feats = extract_sd_features(val, sd, MODEL, spec, tmp_path / "f_val", names={**names, "dataset": "val"})
    obj_feats = extract_sd_features(objnet, sd, MODEL, spec, tmp_path / "f_obj", names={**names, "dataset": "objnet"})
    assert sorted(p.name for p in train_feats.iterdir() if p.is_dir()) == ["train"]
    assert sorted(p.name for p in val_feats.iterdir() if p.is_dir()) == ["test"]

    trained = train_feature_classifier(val_feats, val, spec, tmp_path / "ckpt", tmp_path / "v.parquet",
                                       tmp_path / "v.json", names={**names, "dataset": "val"},
                                       train_features_dir=train_feats, train_dataset_dir=labelled)
    assert trained["num_train_images"] == 9 and trained["train_dataset"] == "tiny" and trained["num_images"] == 6
    scored = evaluate_feature_classifier(obj_feats, objnet, spec, tmp_path / "ckpt", tmp_path / "v.json",
                                         tmp_path / "o.parquet", tmp_path / "o.json", names={**names, "dataset": "objnet"})
    predictions = pd.read_parquet(tmp_path / "o.parquet")
    ids = {0: {0, 1}, 1: {2}}
    assert predictions["correct"].tolist() == [p in ids[lab] for p, lab in
                                               zip(predictions["predicted_class"], predictions["label"])]
    assert scored["num_images"] == 4 and scored["classifier_from"] == "val"
    assert scored["accuracy"] == pytest.approx(predictions["correct"].mean())

    _, md = make_table1({"sd_features": {"imagenet_2k": tmp_path / "v.json", "objectnet": tmp_path / "o.json"}},
                        ["imagenet_2k", "objectnet"], tmp_path / "t1.md", tmp_path / "t1.csv")
    text = md.read_text()
    assert "SD Features objectnet: classifier trained on 9 tiny images (the val column's classifier)" in text
