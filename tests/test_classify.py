"""Diffusion Classifier on a user's own model and images: the Python API and ``diffusion-classifier classify``."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from diffusers import DDPMScheduler

from diffusion_classifier.artifacts import read_shard
from diffusion_classifier.classify import ZeroShotClassifier, parse_strategy
from diffusion_classifier.cli import main
from diffusion_classifier.models.architectures import build_architecture
from diffusion_classifier.stages.score import score_shard

from helpers.sd_helpers import IMAGE_SIZE, write_rgb_dataset

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def rgb(tmp_path_factory):
    return write_rgb_dataset(tmp_path_factory.mktemp("rgb"), classes=tuple(CLASSES))


@pytest.fixture(scope="module")
def digits_unet(tmp_path_factory):
    """A tiny class-conditional pixel UNet (5 classes, 8x8 grayscale) in the diffusers layout."""
    root = tmp_path_factory.mktemp("unet")
    torch.manual_seed(0)
    build_architecture("tiny_unet", num_classes=5, sample_size=8, in_channels=1).save_pretrained(root / "unet")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(root / "scheduler")
    return root


def _folder_by_class(rgb, where):
    """The tiny dataset's images as a user has them: one subfolder per class, plus an unlabelled one."""
    manifest = pd.read_csv(rgb / "manifest.csv")
    for row in manifest.itertuples():
        target = where / CLASSES[row.label] / f"{row.image_id}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(rgb / row.path, target)
    shutil.copy(rgb / manifest.path[0], where / "loose.png")
    return where


def test_api_stores_the_pipelines_pairs_and_per_class_means(sd, rgb, tmp_path):
    clf = ZeroShotClassifier.load(sd, CLASSES, template="a photo of a {}.", strategy="6", device="cpu")
    assert clf.model.adapter == "stable_diffusion"  # detected from text_encoder/
    assert clf.model.image == {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}  # read off UNet + VAE
    manifest = pd.read_csv(rgb / "manifest.csv")
    result = clf.classify([rgb / p for p in manifest["path"]], ids=list(manifest["image_id"]),
                          labels=[CLASSES[i] for i in manifest["label"]], out=tmp_path / "shard", progress=False)

    # The same images through the pipeline's score_shard: byte-equal pairs (same engine, noise, conditioning).
    pipeline = read_shard(score_shard(
        rgb, sd, {"adapter": "stable_diffusion", "image": clf.model.image}, {"evaluations": [6], "keep": [1]},
        {"device": "cpu"}, tmp_path / "pipeline", prompt={"template": "a photo of a {}."}))
    key = ["image_id", "condition", "grid_index"]
    mine = result.pairs.assign(image_id=result.pairs["image_id"].astype(str)).sort_values(key).reset_index(drop=True)
    theirs = pipeline.errors.assign(image_id=pipeline.errors["image_id"].astype(str)).sort_values(key)
    pd.testing.assert_frame_equal(mine, theirs.reset_index(drop=True))
    assert read_shard(tmp_path / "shard").provenance["weights_sha256"] == pipeline.provenance["weights_sha256"]

    p = result.predictions.set_index("image_id")
    assert len(p) == 6 and (p["passes"] == 6 * 3).all()
    means = mine.groupby(["image_id", "condition"])["error_l2"].mean().unstack()
    np.testing.assert_allclose(p[[f"mean_error_{c}" for c in CLASSES]].to_numpy(), means.loc[p.index].to_numpy(),
                               rtol=1e-6)
    assert (p["prediction"] == [CLASSES[i] for i in means.loc[p.index].to_numpy().argmin(1)]).all()
    truth = pipeline.images.set_index(pipeline.images["image_id"].astype(str))
    assert (p["predicted_index"] == truth.loc[p.index, "prediction"]).all()
    assert result.accuracy == pytest.approx(truth["correct"].mean())


def test_explicit_prompts_equal_the_template(sd, rgb):
    image = rgb / pd.read_csv(rgb / "manifest.csv")["path"][0]
    by_template = ZeroShotClassifier.load(sd, CLASSES, template="a photo of a {}.", strategy="4", device="cpu")
    by_prompts = ZeroShotClassifier.load(sd, CLASSES, prompts=[f"a photo of a {c}." for c in CLASSES],
                                         strategy="4", device="cpu")
    a = by_template.classify([image], progress=False).predictions
    b = by_prompts.classify([image], progress=False).predictions
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
    assert a["label"].tolist() == [""] and a["correct"].isna().all()


def test_cli_classifies_a_folder_of_a_text_conditional_model(sd, rgb, tmp_path, capsys):
    folder = _folder_by_class(rgb, tmp_path / "mine")
    out = tmp_path / "predictions.csv"
    assert main(["classify", "--checkpoint", str(sd), "--images", str(folder), "--classes", *CLASSES,
                 "--template", "a photo of a {}.", "--strategy", "4,8:2,1", "--device", "cpu",
                 "--output-pairs", str(tmp_path / "pairs"), "--output", str(out)]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns[:7]) == ["image_id", "prediction", "predicted_index", "label", "correct", "passes",
                                       "seconds"]
    assert [c for c in frame.columns if c.startswith("mean_error_")] == [f"mean_error_{c}" for c in CLASSES]
    assert len(frame) == 7 and set(frame["prediction"]) <= set(CLASSES)
    assert frame.set_index("image_id").loc["loose.png", "label"] == ""
    labelled = frame[frame["image_id"] != "loose.png"]
    assert (labelled["label"] == labelled["image_id"].str.split("/").str[0]).all()
    assert (frame["passes"] == 4 * 3 + 4 * 2).all()  # Algorithm 2: 4 steps for 3 classes, 4 more for the best 2
    assert "passes per image" in capsys.readouterr().out
    assert (tmp_path / "pairs" / "errors.parquet").exists()


def test_cli_classifies_with_a_class_conditional_model(digits_unet, tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        from PIL import Image

        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "p.csv"
    assert main(["classify", "--checkpoint", str(digits_unet), "--images", str(folder), "--classes", "two", "four",
                 "--class-ids", "2", "4", "--strategy", "5", "--device", "cpu", "--output", str(out)]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 3 and set(frame["prediction"]) <= {"two", "four"} and (frame["passes"] == 10).all()
    assert frame[["mean_error_two", "mean_error_four"]].notna().all().all()


def test_bad_input_is_one_clear_line(digits_unet, sd, tmp_path, capsys):
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "images" / "0.png")
    assert main(["classify", "--checkpoint", str(digits_unet), "--images", str(tmp_path / "images"), "--classes",
                 "a", "b", "--template", "a {}", "--device", "cpu", "--output", str(tmp_path / "x.csv")]) == 2
    assert "class-conditional: it takes class ids, not prompts" in capsys.readouterr().err
    assert main(["classify", "--checkpoint", str(sd), "--images", str(tmp_path / "none"), "--classes", "cat", "dog",
                 "--device", "cpu", "--output", str(tmp_path / "x.csv")]) == 2
    assert "image folder" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
    with pytest.raises(ValueError, match="EVALS"):
        parse_strategy("many")
    assert parse_strategy("25,100:5,1@l1").keep == [5, 1] and parse_strategy("25,100:5,1@l1").loss == "l1"


def _digit_folder(where, n=6):
    from PIL import Image

    where.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(where / f"{i}.png")
    return where


def _classify_argv(checkpoint, folder, out):
    return ["classify", "--checkpoint", str(checkpoint), "--images", str(folder), "--classes", "two", "four",
            "--class-ids", "2", "4", "--strategy", "3", "--device", "cpu", "--output", str(out)]


def test_a_crash_halfway_keeps_every_scored_image_and_the_rerun_scores_only_the_rest(digits_unet, tmp_path,
                                                                                      monkeypatch):
    import pyarrow.parquet as pq

    from diffusion_classifier.engine import DiffusionClassifier

    folder = _digit_folder(tmp_path / "images")
    reference = tmp_path / "reference.csv"
    assert main(_classify_argv(digits_unet, folder, reference)) == 0

    original, calls = DiffusionClassifier.classify, []

    def crashes_on_the_fourth_image(self, x0, noise, *log):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("injected crash")
        return original(self, x0, noise, *log)

    out = tmp_path / "predictions.csv"
    monkeypatch.setattr(DiffusionClassifier, "classify", crashes_on_the_fourth_image)
    with pytest.raises(RuntimeError, match="injected crash"):
        main(_classify_argv(digits_unet, folder, out))
    assert not out.exists()  # no CSV that looks complete
    kept = out.with_name(out.name + ".pairs.partial")
    saved = [i for p in kept.glob("chunk-*.images.parquet") for i in pq.read_table(p).column("image_id").to_pylist()]
    assert sorted(saved) == ["0.png", "1.png", "2.png"]  # every image scored before the crash is on disk

    calls.clear()
    monkeypatch.setattr(DiffusionClassifier, "classify", lambda self, x0, noise, *log: calls.append(1) or
                        original(self, x0, noise, *log))
    assert main(_classify_argv(digits_unet, folder, out)) == 0
    assert len(calls) == 3  # only the three images not yet scored
    mine, theirs = pd.read_csv(out), pd.read_csv(reference)
    pd.testing.assert_frame_equal(mine.drop(columns="seconds"), theirs.drop(columns="seconds"))
    # The working store goes once the CSV is written: no partial, lock or hidden copy is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "predictions.csv", "reference.csv"]


def test_an_undecodable_image_is_refused_by_name_before_the_model_loads(digits_unet, tmp_path, monkeypatch, capsys):
    from diffusion_classifier.specs import ModelSpec

    folder = _digit_folder(tmp_path / "images", n=2)
    (folder / "broken.png").write_bytes(b"not a png")
    monkeypatch.setattr(ModelSpec, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    assert main(_classify_argv(digits_unet, folder, tmp_path / "p.csv")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.png" in err[0]


@pytest.mark.parametrize("words, says", [
    (["--class-ids", "2"], "1 class ids for 2 classes"),
    (["--template", "a {}"], "it takes class ids, not prompts"),
])
def test_classes_ids_and_prompts_are_checked_before_the_model_loads(digits_unet, tmp_path, monkeypatch, capsys,
                                                                    words, says):
    from diffusion_classifier.specs import ModelSpec

    folder = _digit_folder(tmp_path / "images", n=1)
    monkeypatch.setattr(ModelSpec, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    argv = [w for w in _classify_argv(digits_unet, folder, tmp_path / "p.csv") if w not in ("--class-ids", "2", "4")]
    assert main([*argv, *words]) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--checkpoint", "--images", "--classes", "--output"])
def test_a_missing_required_option_is_one_usage_line_before_any_model_loads(option, tmp_path, monkeypatch, capsys):
    from diffusion_classifier.specs import ModelSpec

    monkeypatch.setattr(ModelSpec, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    given = {"--checkpoint": ["unused"], "--images": [str(tmp_path)], "--classes": ["a", "b"],
             "--output": [str(tmp_path / "p.csv")]}
    argv = ["classify"] + [word for flag, words in given.items() if flag != option for word in (flag, *words)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"Missing option '{option}'" in err[0]
    assert not (tmp_path / "p.csv").exists()


def test_the_user_api_imports_no_workflow_stage():
    code = ("import sys, diffusion_classifier.classify; "
            "print(sorted(m for m in sys.modules if m.startswith('diffusion_classifier.stages')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_labels_that_match_no_class_are_counted_and_the_accuracy_says_over_how_many(digits_unet, tmp_path, capsys):
    """--classes two of five class folders: the unlabelled images are counted, with why."""
    from PIL import Image

    rng = np.random.default_rng(2)
    for name in ("two", "four", "one", "three"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(tmp_path / "images" / name / f"{i}.png")
    Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(tmp_path / "images" / "loose.png")
    assert main(_classify_argv(digits_unet, tmp_path / "images", tmp_path / "p.csv")) == 0
    captured = capsys.readouterr()
    assert ("4 of 9 images are labelled by their class folder, 5 unlabelled (4 in folders that match no class: "
            "one (2), three (2); 1 not in a class folder)") in captured.err
    assert "accuracy on the 4 labelled images" in captured.out


def test_evaluation_counts_say_what_each_mean_averages_and_floats_are_rounded(sd, rgb, tmp_path):
    """An adaptive strategy evaluates dropped classes fewer times: the CSV says how many."""
    folder = _folder_by_class(rgb, tmp_path / "mine")
    out = tmp_path / "p.csv"
    assert main(["classify", "--checkpoint", str(sd), "--images", str(folder), "--classes", *CLASSES,
                 "--template", "a photo of a {}.", "--strategy", "2,4:1,1", "--device", "cpu",
                 "--output", str(out)]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    counts = frame[[f"evaluations_{c}" for c in CLASSES]]
    assert (counts.max(axis=1) == 4).all() and (counts.min(axis=1) == 2).all()
    assert (counts.sum(axis=1) == frame["passes"]).all()
    best = frame.apply(lambda r: r[f"evaluations_{r['prediction']}"], axis=1)
    assert (best == 4).all()  # the prediction is the class evaluated longest
    words = out.read_text().splitlines()[1].split(",")[5:]  # the numbers after image_id .. correct
    assert all(len(word) <= 9 for word in words), words  # 0.058, 1.01526: not 17 digits


def test_bad_images_can_be_skipped_and_are_listed_with_why(digits_unet, tmp_path, capsys):
    folder = _digit_folder(tmp_path / "images", n=2)
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "p.csv"
    assert main([*_classify_argv(digits_unet, folder, out), "--skip-bad-images"]) == 0
    frame = pd.read_csv(out, keep_default_na=False).set_index("image_id")
    assert "cannot be decoded" in frame.loc["broken.png", "skipped"] and frame.loc["broken.png", "prediction"] == ""
    assert (frame.drop(index="broken.png")["skipped"] == "").all() and len(frame) == 3
    assert "skipped broken.png" in capsys.readouterr().err


@pytest.mark.parametrize("checkpoint", ["./no_such_model", "~/no_such_model", "models/unet/typo"])
def test_a_mistyped_local_path_is_not_looked_up_on_the_hub(checkpoint, tmp_path, monkeypatch, capsys):
    from diffusion_classifier.models import loading

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    monkeypatch.setattr(loading, "_download", lambda *a, **k: pytest.fail("looked up on the hub"))
    folder = _digit_folder(tmp_path / "images", n=1)
    assert main(_classify_argv(checkpoint, folder, tmp_path / "p.csv")) == 2
    err = capsys.readouterr().err
    assert "does not exist (it looks like a local path" in err and len(err.strip().splitlines()) == 1


def test_a_checkpoint_without_a_tokenizer_file_names_it(sd, tmp_path, capsys):
    broken = tmp_path / "sd"
    shutil.copytree(sd, broken)
    (broken / "tokenizer" / "merges.txt").unlink()
    folder = _digit_folder(tmp_path / "images", n=1)
    assert main(["classify", "--checkpoint", str(broken), "--images", str(folder), "--classes", "cat", "dog",
                 "--device", "cpu", "--output", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "tokenizer/merges.txt missing" in err and len(err.splitlines()) == 1  # before any weights load


def test_a_run_ends_without_internal_log_lines_or_workflow_words(digits_unet, tmp_path, capsys, caplog):
    """What a user sees: no multi-KB timing record, no rule, config or environment variables."""
    import logging

    caplog.set_level(logging.INFO)
    folder = _digit_folder(tmp_path / "images", n=2)
    assert main(_classify_argv(digits_unet, folder, tmp_path / "q.csv")) == 0
    assert main(_classify_argv("./missing", folder, tmp_path / "r.csv")) == 2
    captured = capsys.readouterr()
    seen = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    for word in ("the rule", "the config", "DIFFUSION_CLASSIFIER_", "image_seconds"):
        assert word not in seen, seen[-2000:]
