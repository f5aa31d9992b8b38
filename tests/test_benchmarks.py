"""The GPU benchmark script runs on the CPU with tiny shapes (smoke test)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_engine.py"


def test_gpu_engine_benchmark_smoke(tmp_path, monkeypatch):
    pytest.importorskip("diffusers")
    spec = importlib.util.spec_from_file_location("gpu_engine", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_engine", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    results = module.main(["--device", "cpu", "--tiny", "--images", "2", "--classes", "3", "--batch-size", "auto",
                           "--pack", "2", "--sequential-passes", "6", "--json", str(tmp_path / "out.json")])
    assert [r["model"] for r in results] == ["sd", "dit"]
    for r in results:
        # Both loops score the same pairs of Algorithm 2 (3 classes x 2 points, then 2 x 2 more).
        assert r["passes_per_image"] == 3 * 2 + 2 * 2
        assert r["max_relative_error_difference"] < 1e-4 and r["prediction_agreement"] == 1.0
        assert r["authors"]["passes_per_s"] > 0 and r["engine"]["passes_per_s"] > 0
        assert r["sequential"]["gain"] > 0
        assert r["engine_batch_size"] == 256  # auto on the CPU: the fixed default
        packed = r["engine_packed"]  # batches packed across the 2 images: the same errors
        assert packed["max_relative_error_difference_to_unpacked"] < 1e-5
        assert packed["prediction_agreement_with_unpacked"] == 1.0 and packed["passes_per_s"] > 0
    assert (tmp_path / "out.json").stat().st_size > 0


def _embedded_default_module(monkeypatch):
    path = SCRIPT.parent / "embedded_default.py"
    spec = importlib.util.spec_from_file_location("embedded_default", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "embedded_default", module)
    spec.loader.exec_module(module)
    return module


DRY_RUN = """Building DAG of jobs...
[Mon Nov 30 07:53:00 2026]
rule train_model:
    input: r/data/digits
    output: r/models/unet
    jobid: 5
    benchmark: r/benchmarks/train_model/unet.tsv
[Mon Nov 30 07:53:00 2026]
rule download_dataset:
    output: r/data/digits
    benchmark: r/benchmarks/download_dataset/digits.tsv
[Mon Nov 30 07:53:00 2026]
rule score_shard:
    input: r/data/digits, r/models/unet/unet/config.json
    output: r/scores/a/shard-000
    benchmark: r/benchmarks/score_shard/a.tsv
[Mon Nov 30 07:53:00 2026]
rule train_zoo_model:
    input: r/data/digits
    output: r/zoo/m
    benchmark: r/benchmarks/train_zoo_model/m.tsv
[Mon Nov 30 07:53:00 2026]
localrule all:
    input: r/scores/a/shard-000, r/zoo/m
    jobid: 0
"""


def test_critical_path_is_the_longest_chain_of_dependent_jobs(monkeypatch):
    module = _embedded_default_module(monkeypatch)
    jobs = module.dry_run_jobs(DRY_RUN)
    assert [job["rule"] for job in jobs] == ["train_model", "download_dataset", "score_shard", "train_zoo_model", "all"]
    seconds = {"r/benchmarks/download_dataset/digits.tsv": 2, "r/benchmarks/train_model/unet.tsv": 100,
               "r/benchmarks/score_shard/a.tsv": 50, "r/benchmarks/train_zoo_model/m.tsv": 120}
    # The zoo model is the longest single job, but training then scoring (a file inside
    # the model's folder) is the longer chain.
    total, chain = module.critical_path(jobs, seconds)
    assert total == 152 and chain[:3] == ["download_dataset", "train_model", "score_shard"]
