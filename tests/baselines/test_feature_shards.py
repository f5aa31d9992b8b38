"""SD Features on a training set too large for memory: maps written in shards and streamed to train."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from diffusion_classifier.baselines.feature_shards import FeatureShards, shard_paths, write_shards
from diffusion_classifier.baselines.sd_features import read_features, train_stream
from diffusion_classifier.stages.synthetic import extract_sd_features, train_feature_classifier

from .test_sd_baselines import FEATURES, MODEL, labelled, predictor  # noqa: F401  (fixtures)


def test_shards_hold_every_map_once_in_order_and_an_epoch_visits_each_once(tmp_path):
    maps = torch.arange(7 * 2, dtype=torch.float16).reshape(7, 2, 1, 1)
    labels = torch.arange(7)
    sizes = write_shards(tmp_path, (maps[i:i + 2] for i in range(0, 7, 2)), labels, shard_size=3)
    assert sizes == [3, 3, 1] and len(shard_paths(tmp_path)) == 3
    stream = FeatureShards(shard_paths(tmp_path))
    assert len(stream) == 7 and stream.feature_shape == (2, 1, 1) and stream.labels().tolist() == list(range(7))
    seen = torch.cat([y for _, y in stream.batches(torch.Generator().manual_seed(0), batch_size=2)])
    assert sorted(seen.tolist()) == list(range(7))
    for x, y in stream.batches(torch.Generator().manual_seed(1), batch_size=2):
        assert torch.equal(x[:, 0, 0, 0], (2 * y).float())  # each map stays with its label


def test_sharded_extraction_gives_the_same_maps_and_trains_by_streaming(sd, labelled, tmp_path):  # noqa: F811
    whole = extract_sd_features(labelled, sd, MODEL, FEATURES, tmp_path / "whole")
    sharded = extract_sd_features(labelled, sd, MODEL, {**FEATURES, "shard_size": 4}, tmp_path / "sharded")
    assert [len(pd.read_csv(p)) for p in [sharded / "train" / "index.csv"]] == [9]
    assert len(shard_paths(sharded / "train")) == 3 and train_stream(whole) is None
    for split in ("train", "test"):
        for a, b in zip(read_features(whole, split), read_features(sharded, split)):
            assert torch.equal(a, b)
    summary = train_feature_classifier(sharded, labelled, {**FEATURES, "shard_size": 4}, tmp_path / "ckpt",
                                       tmp_path / "p.parquet", tmp_path / "s.json")
    assert summary["num_train_images"] == 9 and summary["feature_shape"] == [64, 4, 4]


def test_shard_size_must_be_positive():
    from diffusion_classifier.specs import FeatureSpec, from_dict

    with pytest.raises(ValueError):
        from_dict(FeatureSpec, {**FEATURES, "shard_size": 0}, "baselines.features")


def test_checking_the_paper_config_prints_the_imagenet_maps_size(capsys):
    from pathlib import Path

    import yaml

    from diffusion_classifier.workflow_config import check_config

    paper = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "paper.yaml").read_text())
    check_config(paper)
    assert "imagenet_train's train maps: 100,000 x 1280x8x8 fp16 = 16.4 GB, held in memory" in capsys.readouterr().err
    del paper["datasets"]["imagenet_train"]["options"]["subset_size"]  # the paper's full training set
    paper["baselines"]["features"]["shard_size"] = 10_000
    check_config(paper)
    assert "1,281,167 x 1280x8x8 fp16 = 209.9 GB, written and streamed in shards of 10,000" in capsys.readouterr().err
