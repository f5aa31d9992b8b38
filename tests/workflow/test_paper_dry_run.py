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
    # 8 zero-shot + 2 SD-on-Pets runs for Figures 3-4 + 12 DiT scoring runs of 100 shards each;
    # 13 datasets + Winoground.
    assert counts["score_shard"] == 22 * 100 and counts["aggregate_scores"] == 22
    assert counts["download_dataset"] == 14
    # Table 2 audits the 8 zero-shot test sets; CLIP rows cover them and Winoground.
    assert counts["audit_filters"] == 8 and counts["clip_zero_shot"] == 16 and counts["clip_winoground"] == 2
    # Effective robustness: ImageNetV2, ImageNet-A (piecewise), ObjectNet.
    assert counts["fit_effective_robustness"] == 3 and counts["evaluate_zoo_model"] == 8
    # Table 1's Synthetic SD Data (8 datasets x 16 generation shards) and SD Features rows
    # (the 6 datasets with a labelled train split).
    assert counts["generate_synthetic"] == 8 * 16 and counts["train_synthetic_classifier"] == 8
    assert counts["extract_sd_features"] == 6 and counts["train_feature_classifier"] == 6
    for rule in ("make_table1", "make_table2", "make_robustness_table", "table_objectives", "figures_timesteps",
                 "plot_effective_robustness", "make_compositional_table", "score_pairs", "make_table3"):
        assert counts.get(rule, 0) >= 1, rule
