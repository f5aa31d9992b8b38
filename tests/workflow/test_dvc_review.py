"""DVC as the review tool: params, metrics and plots declared in dvc.yaml, and diffs between commits.

The embedded run takes minutes, so the diffs are checked on a copy of the repository
whose stage outputs are small stand-ins recorded with ``dvc commit``: what is tested is
dvc.yaml's declarations and the metrics file's format, not the numbers.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from diffusion_classifier.reporting.catalog import artifact, artifacts
from diffusion_classifier.reporting.metrics import METRIC_TABLES, UNMEASURED_TABLES, collect_metrics
from diffusion_classifier.stages.metrics import make_metrics

from helpers.plot_inputs import write_plot_inputs

from .dvc_helpers import ROOT, dvc, git, repository_copy

NOT_PARAMS = {"results"}  # where results go never changes a number (threads do: float sums split by thread)


def _stage():
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["embedded"]


def test_params_are_every_config_section_that_changes_results():
    (params,) = _stage()["params"]
    declared = set(params["config/mini.yaml"])
    sections = set(yaml.safe_load((ROOT / "config/mini.yaml").read_text())) - NOT_PARAMS
    assert declared == sections, f"dvc.yaml params vs config/mini.yaml sections: {declared ^ sections}"


def test_plots_and_metrics_name_files_the_rules_write():
    # Rules name their tables and figures through the catalog (common.smk: artifact_output).
    files = {f"results/{file}" for name in artifacts() for file in artifact(name).files}
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    for plot in plots:
        (definition,) = plot.values()
        for path in definition["y"]:
            assert path in files, f"plot {path} is a file of no catalog artifact (reporting/catalog.yaml)"
    assert _stage()["metrics"] == [{"results/metrics.json": {"cache": False}}]


def test_metrics_hold_every_table_headline_and_refuse_unknown_tables(tmp_path):
    pd.DataFrame({"dataset": ["digits", "digits"], "model": ["unet"] * 2, "strategy": ["even25", "adaptive"],
                  "evaluations": ["25", "5/25"], "keep": ["1", "2/1"], "loss": ["l2"] * 2, "images": [360] * 2,
                  "accuracy": [91.5, 90.0], "ci_low": [87.0, 86.0], "ci_high": [94.0, 93.0],
                  "mean_per_class": [91.0, float("nan")], "passes_per_image": [250, 90]}
                 ).to_csv(tmp_path / "classification.csv", index=False)
    pd.DataFrame({"dataset": ["d"], "model": ["m"], "strategy": ["s"], "seconds_per_image": [0.3]}
                 ).to_csv(tmp_path / "runtime.csv", index=False)
    out = make_metrics([tmp_path / "classification.csv", tmp_path / "runtime.csv"], tmp_path / "metrics.json",
                       tmp_path / "metrics_detail.json")
    assert json.loads((tmp_path / "metrics_detail.json").read_text()) == {"classification": {
        "digits/unet/even25": {"accuracy": 91.5, "mean_per_class": 91, "passes_per_image": 250},
        "digits/unet/adaptive": {"accuracy": 90, "mean_per_class": None, "passes_per_image": 90}}}
    # The headline: the catalog's headline columns only.
    assert json.loads(out.read_text()) == {"classification": {
        "digits/unet/even25": {"accuracy": 91.5}, "digits/unet/adaptive": {"accuracy": 90}}}
    (tmp_path / "table9.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="table 'table9' has no entry with metrics in reporting/catalog.yaml"):
        collect_metrics([tmp_path / "table9.csv"])
    pd.DataFrame({"dataset": ["d"]}).to_csv(tmp_path / "zeroshot.csv", index=False)
    with pytest.raises(ValueError, match=r"table 'zeroshot' lacks columns \['model'"):
        collect_metrics([tmp_path / "zeroshot.csv"])
    assert "runtime" not in METRIC_TABLES


def test_every_table_a_rule_writes_is_a_catalog_artifact_with_metrics_or_exempt():
    import re

    rules = "".join(p.read_text() for p in (ROOT / "workflow/rules").glob("*.smk"))
    # No rule names a table or figure by hand: each comes from its catalog entry, through
    # artifact_output or, for a table with a frame function, the generic rule make_tables.
    assert re.findall(r"\{RESULTS\}/(?:tables|figures)/[^\"]*", rules) == ["{RESULTS}/tables/{{table}}.md",
                                                                          "{RESULTS}/tables/{{table}}.csv",
                                                                              "{RESULTS}/tables/{{table}}.html"]
    generic = {name for name in artifacts() if artifact(name).frame}
    assert set(re.findall(r'artifact_output\("(\w+)"', rules)) | generic == set(artifacts())
    tables = {name for name in artifacts() if artifact(name).files[0].endswith(".md")}
    assert tables == set(METRIC_TABLES) | UNMEASURED_TABLES
    assert UNMEASURED_TABLES == {"runtime", "provenance"}
    assert {"classification", "table1", "table3", "table4", "table5", "compositional"} <= set(METRIC_TABLES)


def _fake_run(repo, accuracy: float, seed: int) -> None:
    """Stand-in outputs of the embedded stage, recorded in dvc.lock as if `dvc repro` had made them."""
    stage = _stage()
    for out in stage["outs"]:
        if isinstance(out, dict):  # a file kept in git (cache: false): the metrics' detail
            (path,) = out
            (repo / path).write_text(json.dumps({"classification": {"digits/digits_unet/even25": {
                "accuracy": accuracy, "passes_per_image": 250}}}))
            continue
        (repo / out).mkdir(parents=True, exist_ok=True)
        (repo / out / "stand-in.txt").write_text(f"{out} {accuracy}\n")
    (repo / "results/metrics.json").write_text(json.dumps(
        {"classification": {"digits/digits_unet/even25": {"accuracy": accuracy}}}))
    write_plot_inputs(repo, accuracy)
    config = repo / "config/mini.yaml"
    config.write_text(config.read_text().replace("scoring:\n  seed: 0", f"scoring:\n  seed: {seed}"))
    dvc("commit", "-f", "embedded", cwd=repo)


def test_after_a_run_and_dvc_commit_a_plain_dvc_status_is_clean(tmp_path):
    """README command 1, then `dvc commit embedded`: `dvc status` says nothing is stale and names no
    paper-scale stage (paper/dvc.template.yaml becomes a dvc.yaml only with a cluster run's commit),
    and `dvc repro` runs nothing."""
    repo = repository_copy(tmp_path / "repo")
    _fake_run(repo, accuracy=80.0, seed=0)
    status = dvc("status", cwd=repo)
    said = status.stdout + status.stderr
    assert "up to date" in said and "paper" not in said and "frozen" not in said, said
    repro = dvc("repro", "--dry", cwd=repo)
    assert "didn't change" in repro.stdout and "Running stage" not in repro.stdout, repro.stdout


def test_metrics_params_and_plots_diff_between_two_commits(tmp_path):
    repo = repository_copy(tmp_path / "repo")
    _fake_run(repo, accuracy=80.0, seed=0)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "run 1", cwd=repo)
    _fake_run(repo, accuracy=85.0, seed=7)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "run 2", cwd=repo)

    metrics = json.loads(dvc("metrics", "diff", "HEAD~1", "HEAD", "--json", cwd=repo).stdout)
    change = metrics["results/metrics.json"]["classification.digits/digits_unet/even25.accuracy"]
    assert change == {"old": 80.0, "new": 85.0, "diff": 5.0}

    params = json.loads(dvc("params", "diff", "HEAD~1", "HEAD", "--json", cwd=repo).stdout)
    assert params["config/mini.yaml"]["scoring.seed"] == {"old": 0, "new": 7, "diff": 7}

    plots = json.loads(dvc("plots", "diff", "HEAD~1", "HEAD", "--json", cwd=repo).stdout)
    assert not plots.get("errors"), plots["errors"]
    assert len(plots["data"]) == len(yaml.safe_load((repo / "dvc.yaml").read_text())["plots"])
    figure3 = next(v for k, v in plots["data"].items() if k.startswith("Figure 3"))
    values = [row for entry in figure3 for row in entry["content"]["data"]["values"]]
    assert {(row["rev"], float(row["accuracy"])) for row in values
            if int(row["timestep"]) == 500 and row["source"] == "even grid"} == {("HEAD~1", 75.0), ("HEAD", 80.0)}
