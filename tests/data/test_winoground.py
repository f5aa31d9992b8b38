"""Winoground: the gated reader on fake local copies, and pair scoring end to end."""

from __future__ import annotations

import pandas as pd
import pytest

from diffusion_classifier.artifacts import read_errors
from diffusion_classifier.data import load_dataset, prepare_dataset
from diffusion_classifier.data.pairs import load_examples
from diffusion_classifier.data.winoground import WinogroundAccessError
from diffusion_classifier.stages.pairs import aggregate_pairs, score_pairs
from diffusion_classifier.stages.prompts import prepare_prompts

from helpers.native_formats import CAPTIONS, TAGS, png_bytes, fake_jsonl_copy, fake_parquet_copy
from helpers.sd_helpers import IMAGE_SIZE, build_sd_checkpoint


@pytest.mark.parametrize("layout", [fake_parquet_copy, fake_jsonl_copy])
def test_reader_writes_a_caption_pair_dataset(tmp_path, layout):
    copy = layout(tmp_path / "copy")
    out = prepare_dataset("winoground", tmp_path / "wino", local_dir=str(copy))
    dataset = load_dataset(out)
    examples = load_examples(dataset, "test")
    assert len(examples) == 4 and len(dataset.manifest) == 8
    assert examples["collapsed_tag"].tolist() == TAGS
    assert examples.loc[1, "caption_1"] == "a person stands and a dog sits"
    first = dataset.manifest.set_index("image_id").loc[examples.loc[0, "image_1"]]
    assert first["label"] == 1 and (first["orig_width"], first["orig_height"]) == (30, 22)
    assert (out / first["path"]).read_bytes() == png_bytes(1)


def test_missing_or_rejected_token_is_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub import errors

    gated = errors.GatedRepoError.__new__(errors.GatedRepoError)
    Exception.__init__(gated, "401 gated")

    def refuse(*args, **kwargs):
        raise gated

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(WinogroundAccessError, match="no Hugging Face token was found.*HF_TOKEN"):
        prepare_dataset("winoground", tmp_path / "wino")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    with pytest.raises(WinogroundAccessError, match="rejected the token in HF_TOKEN"):
        prepare_dataset("winoground", tmp_path / "wino")
    assert not (tmp_path / "wino").exists() and not list(tmp_path.glob(".wino*"))


def test_pairs_are_scored_with_shared_noise_and_summarised(tmp_path):
    copy = fake_parquet_copy(tmp_path / "copy")
    data = prepare_dataset("winoground", tmp_path / "wino", local_dir=str(copy))
    build_sd_checkpoint(tmp_path / "sd")
    model = {"adapter": "stable_diffusion", "image": {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}}
    scoring = {"device": "cpu", "batch_size": 8, "seed": 0, "checkpoint_every": 3}
    prompts = prepare_prompts(data, tmp_path / "sd", model, tmp_path / "prompts", scoring=scoring)
    assert pd.read_csv(prompts / "prompts.csv")["prompt"].tolist()[:2] == list(CAPTIONS[0])
    with pytest.raises(ValueError, match="one-stage strategy"):
        score_pairs(data, tmp_path / "sd", model, {"evaluations": [2, 4], "keep": [1, 1]}, scoring, prompts,
                    tmp_path / "bad")
    shards = [score_pairs(data, tmp_path / "sd", model, {"evaluations": [4], "loss": "l2"}, scoring, prompts,
                          tmp_path / f"shard-{k}", shard=k, num_shards=2) for k in range(2)]
    errors = read_errors(shards)
    assert len(errors) == 8 * 2 * 4  # images x captions x timesteps
    # One noise per timestep shared by both captions: same grid points for each caption of an image.
    per_caption = errors.groupby(["image_id", "condition"], observed=True)["grid_index"].apply(tuple)
    assert per_caption.groupby(level=0).nunique().eq(1).all()
    summary = aggregate_pairs(shards, data, tmp_path / "ex.parquet", tmp_path / "sum.json",
                              names={"dataset": "winoground", "model": "sd", "strategy": "all"})
    outcomes = pd.read_parquet(tmp_path / "ex.parquet")
    recomputed = errors.groupby(["image_id", "condition"], observed=True)["error_l2"].mean()
    examples = load_examples(load_dataset(data))
    for example, row in zip(examples.itertuples(), outcomes.itertuples()):
        s = {(i, c): -recomputed[(getattr(example, f"image_{i}"), c)] for i in (0, 1) for c in (0, 1)}
        assert row.text == (s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0])
    subsets = {row["subset"]: row for row in summary["subsets"]}
    assert set(subsets) == {"all", "collapsed_tag=Both", "collapsed_tag=Object", "collapsed_tag=Relation"}
    assert subsets["all"]["text"] == outcomes["text"].mean() and subsets["all"]["examples"] == 4


def test_paper_winoground_shares_one_noise_across_examples(tmp_path):
    """The authors score every Winoground example with one shared noise file: the paper config does too."""
    from pathlib import Path

    import yaml

    from diffusion_classifier.artifacts import read_images

    paper = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "paper.yaml").read_text())
    runs = [run for run in paper["compositional"] if run["dataset"] == "winoground"]
    assert runs
    copy = fake_parquet_copy(tmp_path / "copy")
    data = prepare_dataset("winoground", tmp_path / "wino", local_dir=str(copy))
    build_sd_checkpoint(tmp_path / "sd")
    model = {"adapter": "stable_diffusion", "image": {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}}
    scoring = {**paper["scoring"], "device": "cpu", "batch_size": 8, "seed": 7}
    scoring.pop("shards", None)
    prompts = prepare_prompts(data, tmp_path / "sd", model, tmp_path / "prompts", scoring=scoring)
    for run in runs:
        strategy = {**paper["strategies"][run["strategy"]], "evaluations": [3]}  # the paper's, at 3 timesteps
        shards = [score_pairs(data, tmp_path / "sd", model, strategy, scoring, prompts,
                              tmp_path / run["strategy"] / f"shard-{k}", shard=k, num_shards=2) for k in range(2)]
        seeds = read_images(shards)["seed"]
        # every image of every example: the one noise draw, the authors' seeded one (noise_seed) where given
        assert len(seeds) == 8 and set(seeds) == {strategy.get("noise_seed", 7)}
