"""Portable numerics: two machines' environments, the same bytes.

A micro training and scoring run goes through the console script (as every workflow
job does) in two subprocesses whose outer environments differ the way two machines'
kernels differ: ATen's CPU capability, oneDNN's instruction set and MKL's branch. With
portable numerics the trained weights and the stored errors are byte-identical; with
native numerics the same two environments give different bytes, which shows that the
environments differ where it matters and that the pins are what removes it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diffusion_classifier import numerics
from diffusion_classifier.artifacts import files_sha256

MODEL = {
    "adapter": "class_conditional",
    "image": {"size": 8, "channels": 1, "resample": "bilinear"},
    "train": {"architecture": "tiny_unet", "steps": 6, "batch_size": 16, "learning_rate": 0.001, "seed": 0,
              "log_every": 3,
              "architecture_kwargs": {"block_out_channels": [8, 16], "layers_per_block": 1, "learned_variance": True}},
}
STRATEGY = {"evaluations": [4, 8], "keep": [3, 1], "loss": "l2", "extra_objectives": ["vlb"]}

#: What differs between two machines, as variables that the libraries read when they load.
MACHINE_A: dict[str, str] = {}
MACHINE_B = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "AUTO"}


def run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "diffusion_classifier.cli", *args], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]


def digest(folder: Path, pattern: str) -> str:
    files = list(folder.rglob(pattern))
    assert files, f"no {pattern} under {folder}"
    return files_sha256(files, folder)


def train_and_score(root: Path, machine: dict[str, str], mode: str, dataset: Path) -> tuple[str, str]:
    """(sha256 of the trained weights, sha256 of the stored errors) of one run on ``machine``."""
    env = {k: v for k, v in os.environ.items() if k not in numerics.PORTABLE_ENVIRONMENT}
    env.update(machine)
    env[numerics.MODE_ENV] = mode
    model = root / "model"
    run(["train-model", "--dataset-dir", str(dataset), "--model", json.dumps(MODEL), "--model-name", "micro",
         "--output-dir", str(model)], env)
    shard = root / "shard-000"
    run(["score-shard", "--dataset-dir", str(dataset), "--checkpoint", str(model), "--model", json.dumps(MODEL),
         "--strategy", json.dumps(STRATEGY), "--scoring", json.dumps({"device": "cpu", "batch_size": 5}),
         "--output-dir", str(shard), "--max-images", "6"], env)
    return digest(model, "*.safetensors"), digest(shard, "errors*.parquet")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from diffusion_classifier.data import prepare_dataset

    return prepare_dataset("sklearn_digits", tmp_path_factory.mktemp("digits") / "digits", image_size=8,
                           max_per_split=16)


@pytest.mark.parametrize("mode", ["portable", "native"])
def test_two_machines_compute_the_same_bytes_only_with_portable_numerics(mode, dataset, tmp_path):
    a = train_and_score(tmp_path / "a", MACHINE_A, mode, dataset)
    b = train_and_score(tmp_path / "b", MACHINE_B, mode, dataset)
    if mode == "portable":
        assert a == b, "weights or errors differ between the two environments despite the pins"
    else:
        assert a[0] != b[0] and a[1] != b[1], "the environments should change native kernels' bytes"


def test_pin_overrides_the_callers_environment(monkeypatch):
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    monkeypatch.setenv(numerics.MODE_ENV, "portable")
    numerics.pin()
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2"
    assert os.environ["MKL_CBWR"] == "COMPATIBLE"


def test_native_mode_leaves_the_environment_alone(monkeypatch):
    monkeypatch.setenv(numerics.MODE_ENV, "portable")  # restored after the test, as pin() changes it
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    numerics.pin("native")
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx512"
    assert os.environ[numerics.MODE_ENV] == "native"


def test_an_unknown_mode_is_one_line_naming_the_variable(monkeypatch):
    from diffusion_classifier.cli import main

    monkeypatch.setenv(numerics.MODE_ENV, "fast")
    assert main(["list"]) == 2
    with pytest.raises(Exception, match=numerics.MODE_ENV):
        numerics.mode()


def test_the_config_schema_offers_the_modes_with_the_same_default():
    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    assert schema["properties"]["numerics"]["enum"] == list(numerics.MODES)
    assert schema["properties"]["numerics"]["default"] == numerics.MODES[0]
