"""No complete-looking wrong artifact: scoring and aggregation refuse what they cannot vouch for.

One tiny run of two shards (an adaptive strategy, so the replay follows kept lists) is
scored once per module; each test damages a copy in one way and expects a one-line
error naming what is wrong.
"""

import hashlib
import json
import logging
import shutil

import pandas as pd
import pytest
import torch

from diffusion_classifier.artifacts import ShardError, read_images
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.engine import DiffusionClassifier, NonFiniteErrorsError
from diffusion_classifier.stages.aggregate import aggregate_scores
from diffusion_classifier.stages.score import score_shard

from test_score_shard import MODEL, STRATEGY, tiny_checkpoint

SCORING = {"device": "cpu", "checkpoint_every": 2}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    data = prepare_dataset("sklearn_digits", root / "digits", image_size=8, max_per_split=12)
    checkpoint = tiny_checkpoint(root / "model", num_classes=10)
    shards = [score_shard(data, checkpoint, MODEL, STRATEGY, SCORING, root / "scores" / f"shard-{s:03d}",
                          shard=s, num_shards=2) for s in range(2)]
    return {"data": data, "checkpoint": checkpoint, "shards": shards, "root": root}


@pytest.fixture
def copy(run, tmp_path):
    """A private copy of the run's dataset and shards."""
    data = shutil.copytree(run["data"], tmp_path / "digits")
    shards = [shutil.copytree(s, tmp_path / "scores" / s.name) for s in run["shards"]]
    return {"data": data, "shards": shards, "checkpoint": run["checkpoint"], "tmp": tmp_path}


def aggregate(shards, data, tmp_path):
    return aggregate_scores(shards, data, tmp_path / "predictions.parquet", tmp_path / "summary.json")


def rewrite(shard, name, frame):
    """Replace a shard file and record its new sha256, as code without the checks would."""
    frame.to_parquet(shard / name, index=False)
    provenance = json.loads((shard / "provenance.json").read_text())
    provenance.setdefault("files", {})[name] = hashlib.sha256((shard / name).read_bytes()).hexdigest()
    (shard / "provenance.json").write_text(json.dumps(provenance))


def test_an_untouched_run_aggregates(copy):
    summary = aggregate(copy["shards"], copy["data"], copy["tmp"])
    assert summary["num_images"] == 10  # the digits' test split at max_per_split=12


def test_a_broken_checkpoint_is_refused_naming_the_image(run, tmp_path):
    from diffusers import UNet2DModel

    broken = shutil.copytree(run["checkpoint"], tmp_path / "model")
    unet = UNet2DModel.from_pretrained(broken / "unet")
    with torch.no_grad():
        unet.conv_out.bias.fill_(float("nan"))
    unet.save_pretrained(broken / "unet")
    with pytest.raises(NonFiniteErrorsError, match=r"image 'digit-\d+': non-finite l2 error .* stage 0, timestep"):
        score_shard(run["data"], broken, MODEL, STRATEGY, SCORING, tmp_path / "shard-000")
    assert not (tmp_path / "shard-000").exists()
    assert not (tmp_path / ".shard-000.lock").exists()  # the failed job gave up its lock


def test_aggregation_never_ranks_on_non_finite_errors(copy):
    shard = copy["shards"][0]
    errors = pd.read_parquet(shard / "errors.parquet")
    errors.loc[3, "error_l2"] = float("nan")
    rewrite(shard, "errors.parquet", errors)
    with pytest.raises(ShardError, match=r"non-finite l2 error for image 'digit-\d+', timestep \d+, class \d+"):
        aggregate(copy["shards"], copy["data"], copy["tmp"])


def test_an_outcome_that_its_errors_do_not_give_is_refused(copy):
    shard = copy["shards"][1]
    images = read_images([shard])
    images.loc[0, "correct"] = not images.loc[0, "correct"]
    rewrite(shard, "images.parquet", images)
    with pytest.raises(ShardError, match=rf"stored correct of image '{images.loc[0, 'image_id']}' is not what"):
        aggregate(copy["shards"], copy["data"], copy["tmp"])


def test_an_edited_shard_file_is_refused(copy):
    shard = copy["shards"][0]
    read_images([shard]).assign(correct=True).to_parquet(shard / "images.parquet", index=False)
    with pytest.raises(ShardError, match="does not match the sha256 recorded"):
        aggregate(copy["shards"], copy["data"], copy["tmp"])


def test_shards_must_cover_exactly_the_split(copy):
    with pytest.raises(ShardError, match=r"are not shards 0\.\.1 once each"):
        aggregate(copy["shards"][:1], copy["data"], copy["tmp"])
    with pytest.raises(ShardError, match=r"are not shards 0\.\.1 once each"):
        aggregate([copy["shards"][0], copy["shards"][0]], copy["data"], copy["tmp"])
    shard = copy["shards"][1]
    images = read_images([shard])
    rewrite(shard, "images.parquet", images.iloc[1:])  # an image lost, the rest consistent
    with pytest.raises(ShardError, match=r"holds 4 images but its share of split 'test' is 5"):
        aggregate(copy["shards"], copy["data"], copy["tmp"])


def test_shards_of_other_settings_are_not_mixed(copy):
    other = score_shard(copy["data"], copy["checkpoint"], MODEL, STRATEGY, {**SCORING, "seed": 1},
                        copy["tmp"] / "seed1" / "shard-001", shard=1, num_shards=2)
    with pytest.raises(ShardError, match=r"scored with other settings than .* \(seed\)"):
        aggregate([copy["shards"][0], other], copy["data"], copy["tmp"])


def change_one_image(data):
    """Alter one test image and re-record its sha256, as a re-download would."""
    manifest = pd.read_csv(data / "manifest.csv", dtype=str)
    row = manifest[manifest["split"] == "test"].index[0]
    path = data / manifest.loc[row, "path"]
    from PIL import Image

    with Image.open(path) as image:
        altered = image.point(lambda v: 255 - v)
    altered.save(path)
    manifest.loc[row, "sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest.to_csv(data / "manifest.csv", index=False)


def test_shards_of_other_dataset_contents_are_refused(copy):
    change_one_image(copy["data"])
    with pytest.raises(ShardError, match="scored on other contents of"):
        aggregate(copy["shards"], copy["data"], copy["tmp"])


def interrupted(copy, monkeypatch, after):
    """Score shard 0 until the ``after``-th image, as a preempted job would."""

    calls = {"n": 0}
    original = DiffusionClassifier.classify

    def preempted(self, x0, noise, *log):
        calls["n"] += 1
        if calls["n"] > after:
            raise KeyboardInterrupt("preempted")
        return original(self, x0, noise, *log)

    monkeypatch.setattr(DiffusionClassifier, "classify", preempted)
    with pytest.raises(KeyboardInterrupt):
        score_shard(copy["data"], copy["checkpoint"], MODEL, STRATEGY, SCORING, copy["tmp"] / "new" / "shard-000",
                    shard=0, num_shards=2)
    counted = []
    monkeypatch.setattr(DiffusionClassifier, "classify",
                        lambda self, x0, noise, *log: counted.append(1) or original(self, x0, noise, *log))
    return counted


@pytest.mark.parametrize("change", ["dataset", "engine"])
def test_a_checkpoint_of_other_inputs_is_not_resumed(copy, monkeypatch, caplog, change):
    import diffusion_classifier.artifacts as artifacts

    counted = interrupted(copy, monkeypatch, after=4)
    if change == "dataset":
        change_one_image(copy["data"])
    else:
        monkeypatch.setattr(artifacts, "engine_code_sha256", lambda: "0" * 64)
    with caplog.at_level(logging.WARNING):
        shard = score_shard(copy["data"], copy["checkpoint"], MODEL, STRATEGY, SCORING,
                            copy["tmp"] / "new" / "shard-000", shard=0, num_shards=2)
    assert len(counted) == 5  # every image rescored: none of the old checkpoint was kept
    assert f"changed: {change}" in caplog.text.replace("dataset_sha256", "dataset").replace(
        "engine_code_sha256", "engine")
    assert len(read_images([shard])) == 5


def test_an_unchanged_run_still_resumes(copy, monkeypatch):
    counted = interrupted(copy, monkeypatch, after=4)
    score_shard(copy["data"], copy["checkpoint"], MODEL, STRATEGY, SCORING, copy["tmp"] / "new" / "shard-000",
                shard=0, num_shards=2)
    assert len(counted) == 1  # 4 of the shard's 5 images were checkpointed
