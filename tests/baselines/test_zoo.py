"""The zoo: names fail clearly, training round-trips, evaluation follows the class mapping."""

import json

import pandas as pd
import pytest
import torch

from diffusion_classifier.baselines import zoo as zoo_module
from diffusion_classifier.baselines.zoo import ZooError, ZooModelSpec, build_zoo_model, load_trained, load_zoo_model
from diffusion_classifier.baselines.zoo_evaluation import class_mapping, evaluate_classifier
from diffusion_classifier.data import DatasetError, load_dataset
from diffusion_classifier.stages.zoo import evaluate_zoo_model, train_zoo_model

from helpers.zoo_helpers import IMAGE, constant_checkpoint, make_manifest


def test_unknown_timm_name_lists_close_names():
    with pytest.raises(ZooError, match=r"unknown model 'resnet5O'.*resnet50"):
        build_zoo_model(ZooModelSpec(architecture="resnet5O", num_classes=10, image=IMAGE))


def test_unknown_torchvision_name_and_weights_are_clear():
    with pytest.raises(ZooError, match=r"close names.*vit_b_16"):
        build_zoo_model(ZooModelSpec(architecture="vit_b16", source="torchvision"))
    with pytest.raises(ZooError, match=r"no weights 'IMAGENET21K'.*IMAGENET1K_V1"):
        build_zoo_model(ZooModelSpec(architecture="vit_b_16", source="torchvision", weights="IMAGENET21K"))


def test_unknown_source_and_conflicting_weights_are_refused():
    with pytest.raises(ZooError, match="unknown zoo source 'keras'"):
        ZooModelSpec(architecture="resnet18", source="keras")
    with pytest.raises(ZooError, match="not both"):
        ZooModelSpec(architecture="resnet18", pretrained=True, train={"epochs": 1}, train_dataset="digits")


def test_failed_weight_download_says_how_to_fix(monkeypatch):
    import timm

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(timm, "create_model", offline)
    spec = ZooModelSpec(architecture="resnet50.tv_in1k", pretrained=True)
    with pytest.raises(ZooError, match=r"resnet50.tv_in1k.*HF_HOME"):
        load_zoo_model(spec)


def test_trained_model_round_trips_through_safetensors(tmp_path, monkeypatch):
    from diffusion_classifier.artifacts import read_timing
    from diffusion_classifier.artifacts.timing import RESULTS_ENV

    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    data = make_manifest(tmp_path / "data", {"train": [0, 1, 2] * 4, "test": [0, 1, 2]}, ["a", "b", "c"])
    model = {"architecture": "resnet18", "num_classes": 3, "image": IMAGE, "train_dataset": "data",
             "kwargs": {"channels": [8, 8, 8, 8], "stem_width": 8},
             "train": {"epochs": 1, "batch_size": 4, "seed": 0}}
    out = train_zoo_model(data, model, "tiny", tmp_path / "ckpt")
    log = pd.read_csv(out / "train_log.csv")
    assert list(log.columns) == ["epoch", "loss", "train_accuracy"]  # exact across reruns
    assert not (out / "timing.json").exists()
    timing = read_timing(out)  # measured time, apart: tmp_path/timing/ckpt.timing.json
    assert timing["artifact"] == "ckpt"
    assert timing["wall_seconds"] > 0 and [e["epoch"] for e in timing["per_epoch"]] == [1]
    assert (out / "model.safetensors").exists()
    a, b = load_trained(out), load_trained(out)
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(a(x), b(x))
    with pytest.raises(ZooError, match="re-run rule train_zoo_model"):
        load_trained(tmp_path)
    # `train.device` (default auto) is where it trained; explicit "cpu" gives the same weights.
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    on_cpu = train_zoo_model(data, {**model, "train": {**model["train"], "device": "cpu"}}, "tiny", tmp_path / "cpu")
    if not torch.cuda.is_available():
        assert torch.equal(load_trained(on_cpu)(x), a(x))


def test_evaluation_argmaxes_over_mapped_classes_only(tmp_path):
    # Dataset classes map to model classes 3, 5 and {7, 9}; the model always prefers class 0
    # (not a candidate), then 9: every image is predicted 9 -> only class "c" is right.
    data = load_dataset(make_manifest(tmp_path / "data", {"test": [0, 1, 2, 2]}, ["a", "b", "c"],
                                      class_ids=["3", "5", "7;9"]))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([9.0, 0, 0, 0, 0, 0, 0, 0, 0, 4.0]))
    mapping = class_mapping(data, None, 10)
    assert mapping.candidates == (3, 5, 7, 9)
    spec = ZooModelSpec(architecture="x", num_classes=10, image=IMAGE)
    predictions = evaluate_classifier(model, data, spec.transform, mapping, "test")
    assert predictions["predicted_class"].tolist() == [9, 9, 9, 9]
    assert predictions["correct"].tolist() == [False, False, True, True]
    assert predictions["prediction_name"].tolist() == ["c"] * 4


def test_id_counterpart_restricts_images_and_candidates(tmp_path):
    base = load_dataset(make_manifest(tmp_path / "base", {"test": list(range(10))}, [str(i) for i in range(10)]))
    subset = load_dataset(make_manifest(tmp_path / "sub", {"test": [0, 1]}, ["two", "five"], class_ids=["2", "5"]))
    mapping = class_mapping(base, subset, 10)
    assert mapping.candidates == (2, 5) and mapping.kept_labels().tolist() == [2, 5]
    ckpt = constant_checkpoint(tmp_path / "const", favourite=0)
    settings = {"full": {"dataset": "base"}, "base_sub": {"dataset": "base", "classes_from": "sub"}}
    full, summary = evaluate_zoo_model(
        ckpt["spec"], "constant", settings, tmp_path, [tmp_path / "out" / s / "constant.parquet" for s in settings],
        [tmp_path / "out" / s / "constant.summary.json" for s in settings], checkpoint=ckpt["checkpoint"])
    assert full["num_images"] == 10 and full["num_correct"] == 1  # always class 0
    assert summary["num_images"] == 2 and summary["num_candidate_classes"] == 2
    predictions = pd.read_parquet(tmp_path / "out" / "base_sub" / "constant.parquet")
    assert set(predictions["predicted_class"]) <= {2, 5}


def test_mapping_outside_the_model_is_an_error(tmp_path):
    data = load_dataset(make_manifest(tmp_path / "data", {"test": [0]}, ["a"], class_ids=["1200"]))
    with pytest.raises(DatasetError, match="outside the model's 1000 classes"):
        class_mapping(data, None, 1000)


def test_torchvision_weights_need_their_published_preprocessing(monkeypatch):
    from torchvision import models

    monkeypatch.setattr(models, "get_model", lambda *a, **k: pytest.fail("weights loaded despite the mismatch"))
    # ViT-L/16's IMAGENET1K_V1 is evaluated at resize 242 / crop 224, not the usual 256.
    spec = ZooModelSpec(architecture="vit_l_16", source="torchvision", weights="IMAGENET1K_V1",
                        image={"size": 224, "resize": 256})
    with pytest.raises(ZooError, match=r"vit_l_16.*\{'resize': 256\}.*'resize': 242"):
        build_zoo_model(spec)


def test_paper_zoo_uses_each_torchvision_weights_reference_preprocessing():
    from pathlib import Path

    import yaml
    from torchvision import models

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "paper.yaml").read_text())
    checked = []
    for name, entry in config["zoo"]["models"].items():
        if entry.get("source") == "torchvision" and entry.get("weights"):
            spec = ZooModelSpec(**entry)
            zoo_module.check_reference_preprocessing(spec, models.get_model_weights(spec.architecture)[spec.weights])
            checked.append(name)
    assert "vit_l_16" in checked and len(checked) == 3
