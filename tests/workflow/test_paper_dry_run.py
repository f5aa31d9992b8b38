"""The paper-scale configuration builds its whole DAG with no data, weights or GPU."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_paper_dag_has_every_stage_of_the_paper():
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", "config/paper.yaml",
         "--config", "results=/tmp/dc-paper-dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    counts = {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", run.stdout, re.M)}
    # 8 zero-shot + 2 SD-on-Pets runs for Figures 3-4 + 8 DiT scoring runs of 100 shards each.
    assert counts["score_shard"] == 18 * 100 and counts["aggregate_scores"] == 18
    # Table 4 / Figure 6's ID accuracies on ImageNet-A's and ObjectNet's classes: replayed from the
    # imagenet_10k runs (2 shifts x 2 resolutions); the 16,250-image restricted-val runs are opt-in.
    assert counts["replay_restricted"] == 4
    assert "/scores/imagenet_val_" not in run.stdout and "/predictions/imagenet_val_" not in run.stdout
    # 13 datasets + ImageNet train (SD Features) + Winoground.
    assert counts["download_dataset"] == 15
    # Table 2 audits the 8 zero-shot test sets; CLIP rows cover them and Winoground.
    assert counts["audit_filters"] == 8 and counts["clip_zero_shot"] == 16 and counts["clip_winoground"] == 2
    # Effective robustness: ImageNetV2, ImageNet-A (piecewise), ObjectNet.
    assert counts["fit_effective_robustness"] == 3 and counts["evaluate_zoo_model"] == 8
    # Table 1's Synthetic SD Data (8 datasets x 16 generation shards) and SD Features rows:
    # maps of the 8 columns + ImageNet train; 7 classifiers (ImageNet's learns from ImageNet
    # train), ObjectNet scored by ImageNet's.
    assert counts["generate_synthetic"] == 8 * 16 and counts["train_synthetic_classifier"] == 8
    assert counts["extract_sd_features"] == 9 and counts["train_feature_classifier"] == 7
    assert counts["evaluate_feature_classifier"] == 1
    for rule in ("make_table1", "make_table2", "make_robustness_table", "table_objectives", "figures_timesteps",
                 "plot_effective_robustness", "make_compositional_table", "score_pairs", "make_table3"):
        assert counts.get(rule, 0) >= 1, rule


def test_paper_table1_has_every_cell_the_paper_has():
    """Every (row, dataset) the paper's Table 1 reports has a run in config/paper.yaml."""
    import yaml

    from diffusion_classifier.reporting.paper_values import paper_table

    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    baselines = config["baselines"]
    covered = {
        "diffusion_classifier": set(config["table1"]["diffusion_classifier"]),
        "synthetic_sd_data": set(baselines["synthetic"]["datasets"]),
        "sd_features": set(baselines["features"]["datasets"]),
        **{spec["table1_row"]: set(baselines["zero_shot"]["datasets"])
           for name, spec in baselines["clip_models"].items()
           if spec.get("table1_row") and name in baselines["zero_shot"]["models"]},
    }
    for row, cells in paper_table("table1").items():
        missing = set(cells) - covered.get(row, set())
        assert not missing, f"Table 1 row {row} lacks {sorted(missing)}"
        assert set(cells) <= set(config["table1"]["datasets"])


def test_clip_rows_read_the_prompt_tables_of_the_diffusion_rows():
    """Every CLIP zero-shot job is given the same released table as its dataset's prepare_prompts job."""
    import json
    import shlex

    from helpers.dry_run import dry_run_jobs

    def prompt_of(command):
        words = shlex.split(command)
        return json.loads(words[words.index("--prompt") + 1]), words[words.index("--dataset-dir") + 1]

    jobs = dry_run_jobs("config/paper.yaml", "--config", "results=/tmp/dc-paper-dry-run")
    diffusion = {dataset: prompt for prompt, dataset in
                 (prompt_of(c) for rule, c in jobs if rule == "prepare_prompts" and "winoground" not in c)}
    clip = [prompt_of(c) for rule, c in jobs if rule == "clip_zero_shot"]
    assert len(clip) == 16
    for prompt, dataset in clip:
        assert prompt.get("table") and prompt == diffusion[dataset], dataset
