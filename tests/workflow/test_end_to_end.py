"""Snakemake runs the whole DAG on the micro config, resumes nothing twice, and the
command-line stages refuse bad input cleanly."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from diffusion_classifier.artifacts import read_shard

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow


def snakemake(results: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "tests/configs/micro.yaml",
           "--config", f"results={results}", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("micro") / "results dir"  # paths with spaces must work
    run = snakemake(results)
    assert run.returncode == 0, run.stderr[-4000:]
    return results


def supervised_rows(micro_run: Path) -> pd.DataFrame:
    """The classification table's rows of the class-conditional model on the digits test set."""
    table = pd.read_csv(micro_run / "tables/classification.csv")
    return table[(table["dataset"] == "digits") & (table["model"] == "digits_unet")].set_index("strategy")


def test_tables_are_produced(micro_run):
    table = supervised_rows(micro_run).reset_index()
    assert set(table["strategy"]) == {"even25", "adaptive", "repeats"}
    assert (table["images"] == 20).all()
    # Passes come from the schedules: 10 classes x 4, 10 x 2 + 2 x 2, and 10 x (5 timesteps x 2 noises).
    assert dict(zip(table["strategy"], table["passes_per_image"])) == {"even25": 40, "adaptive": 24,
                                                                       "repeats": 100}
    assert ((table["accuracy"] >= 0) & (table["accuracy"] <= 100)).all()
    assert (micro_run / "tables/classification.md").read_text().startswith("Diffusion Classifier accuracy")


def test_every_rule_leaves_a_log_and_a_benchmark(micro_run):
    for rule in ("download_dataset", "train_model", "score_shard", "aggregate_scores", "make_tables",
                 "figures_timesteps", "table_objectives", "schedule_study", "class_count_study",
                 "figure_noise_pairing",
                 "train_zoo_model", "evaluate_zoo_model", "build_shift", "fit_effective_robustness",
                 "make_robustness_table", "plot_effective_robustness"):
        assert list((micro_run / "logs" / rule).rglob("*.log")), rule
        assert list((micro_run / "benchmarks" / rule).rglob("*.tsv")), rule


def test_shards_split_the_images_and_record_provenance(micro_run):
    shards = sorted((micro_run / "scores/digits/digits_unet/adaptive").glob("shard-*"))
    assert [s.name for s in shards] == ["shard-000", "shard-001"]
    parts = [read_shard(s) for s in shards]
    ids = [set(p.images["image_id"]) for p in parts]
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == 20
    provenance = parts[0].provenance
    assert provenance["weights_sha256"] and provenance["code_version"] and provenance["run_key"]
    assert provenance["settings"]["scoring_config"]["loss"] == "l1"
    errors = parts[0].errors
    assert set(errors["stage"]) == {0, 1} and "error_l1" in errors
    summary = json.loads((micro_run / "predictions/digits/digits_unet/adaptive.summary.json").read_text())
    assert summary["num_images"] == 20 and len(summary["shards"]) == 2


def test_robustness_study_outputs(micro_run):
    members = {"mlp64_e1", "efficientnet_e3", "resnet_e5", "linear_e2", "cnn32_e6", "mlp256_e6"}
    assert {p.name for p in (micro_run / "zoo/models").iterdir()} == members  # only the micro members
    assert (micro_run / "zoo/models/linear_e2/model.safetensors").exists()
    adversarial = pd.read_parquet(micro_run / "zoo/predictions/digits_adversarial/linear_e2.parquet")
    assert len(adversarial) > 0 and not adversarial["correct"].any()  # built from the reference's mistakes
    fit = json.loads((micro_run / "robustness/adversarial/fit.json").read_text())
    assert fit["fit"]["reference"] == "linear_e2" and "linear_e2" in fit["fit"]["excluded"]
    table = pd.read_csv(micro_run / "tables/table4.csv")
    assert set(table["model"]) == members | {"Diffusion Classifier"} and table["paper_id"].isna().all()
    assert (micro_run / "figures/fig6_effective_robustness.png").read_bytes()[:4] == b"\x89PNG"
    assert set(pd.read_csv(micro_run / "figures/fig6_effective_robustness.csv")["panel"]) == {"corrupted", "adversarial"}


def test_second_run_has_nothing_to_do(micro_run):
    before = (micro_run / "tables/classification.csv").read_bytes()
    run = snakemake(micro_run, "-n")
    assert run.returncode == 0 and "Nothing to be done" in run.stdout + run.stderr
    assert (micro_run / "tables/classification.csv").read_bytes() == before


def test_cli_reports_bad_input_without_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "diffusion_classifier.cli", "score-shard", "--dataset-dir", str(tmp_path / "none"),
         "--checkpoint", str(tmp_path), "--model", '{"adapter": "class_conditional"}',
         "--strategy", '{"evaluations": [4]}', "--scoring", "{}", "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert run.returncode == 2
    assert "dataset.json is missing" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


# --- LAION-filter audit (Table 2), CLIP baselines and Table 1 ------------------------------
def test_table2_audits_digits_and_reports_missing_filters(micro_run):
    for rule in ("audit_filters", "make_table2", "clip_zero_shot", "make_table1"):
        assert list((micro_run / "logs" / rule).rglob("*.log")), rule
        assert list((micro_run / "benchmarks" / rule).rglob("*.tsv")), rule
    audit = json.loads((micro_run / "audit/digits.json").read_text())
    assert audit["num_images"] == 20 and audit["decode_errors"] == 0
    cells = pd.read_csv(micro_run / "tables/table2.csv").set_index("column")
    # Digits are 8x8 originals: none passes the 512-pixel resolution filter.
    assert cells.loc["Resolution", "ours"] == 0.0
    assert cells.loc["Aesthetic", "note"] == "weights not available offline"
    assert pd.isna(cells.loc["Aesthetic", "ours"]) and pd.isna(cells.loc["R+A+S", "ours"])
    assert "aesthetic: computed for no dataset; n/a for digits" in (micro_run / "tables/table2.md").read_text()


def test_table1_has_our_diffusion_classifier_and_na_clip_rows(micro_run):
    cells = pd.read_csv(micro_run / "tables/table1.csv").set_index("method_key")
    assert list(cells.index) == ["synthetic_sd_data", "sd_features", "diffusion_classifier", "clip_rn50",
                                 "openclip_vith14"]
    table = pd.read_csv(micro_run / "tables/classification.csv").set_index(["dataset", "model", "strategy"])
    # Table 1 is zero-shot: its Diffusion Classifier cell is the text-conditional model's run.
    assert cells.loc["diffusion_classifier", "ours"] == pytest.approx(
        table.loc[("digits", "digits_text", "adaptive"), "accuracy"])
    for row in ("clip_rn50", "openclip_vith14"):
        assert pd.isna(cells.loc[row, "ours"]) and cells.loc[row, "note"] == "weights not available offline"
    for row in ("synthetic_sd_data", "sd_features"):  # trained here on the micro digits: numbers, not n/a
        summary = json.loads((micro_run / f"baselines/{row}/digits_text/digits/summary.json").read_text())
        assert summary["status"] == "ok" and summary["num_images"] == 20
        assert cells.loc[row, "ours"] == pytest.approx(100 * summary["accuracy"], abs=1e-3)  # table in percent
    from helpers.tables import markdown_rows

    md = (micro_run / "tables/table1.md").read_text()
    # digits is no dataset of the paper: no column of its paper values, one sentence instead.
    assert ["CLIP ResNet-50", "yes", "n/a (weights not available offline)"] in markdown_rows(md)
    assert "The paper reports none of these settings" in md


# --- supervised analyses of stored errors (Figures 3-4, Table 5, schedule study) ----------
def test_stored_error_analyses_agree_with_the_scored_runs(micro_run):
    accuracy = supervised_rows(micro_run)["accuracy"]
    fig3 = pd.read_csv(micro_run / "figures/fig3_single_timestep.csv")
    assert set(fig3.loc[fig3["source"] == "even grid", "timestep"]) == {125, 375, 625, 875}
    repeats = fig3[fig3["source"] == "repeated timesteps"]
    assert set(repeats["timestep"]) == {0, 475, 500, 525, 999} and (repeats["noise_draws"] == 2).all()
    fig4 = pd.read_csv(micro_run / "figures/fig4_timestep_strategies.csv")
    trials = fig4.groupby("strategy")["trials"].apply(list).to_dict()
    assert trials["0,500,999"] == [3, 6] and trials["0"] == [1, 2] and len(trials) == 6
    # "Even 4" uses every pair of the one-stage run: its accuracy is that run's.
    even = fig4[fig4["strategy"].str.startswith("Even")].set_index("trials")["accuracy"]
    assert even[4] == pytest.approx(accuracy["even25"])
    for png in ("fig3_single_timestep", "fig4_timestep_strategies", "schedule_study", "fig2_noise_pairing",
                "fig5_examples_digit_captions"):
        assert (micro_run / "figures" / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    # Figure 2: 2 noises x 20 timesteps x 2 classes, the image of the first class.
    fig2 = pd.read_csv(micro_run / "figures/fig2_noise_pairing.csv")
    assert len(fig2) == 80 and set(fig2["condition"].astype(str)) == {"5", "3"}
    assert json.loads((micro_run / "figures/fig2_noise_pairing.json").read_text())["label"] == "5"

    table5 = pd.read_csv(micro_run / "tables/table5.csv").set_index("objective")
    assert list(table5.index) == ["l2", "VLB", "l2 + VLB"]
    assert table5.loc["l2", "accuracy"] == pytest.approx(accuracy["even25"])
    assert table5.loc["VLB", "paper_accuracy"] == 71.6

    study = pd.read_csv(micro_run / "tables/schedule_study.csv")
    one = study[(study["stages"] == 1) & (study["loss"] == "l2")].iloc[0]
    assert one["accuracy"] == pytest.approx(accuracy["even25"]) and one["passes_per_image"] == 40
    direct = study[study["direct_run"] == "adaptive"].iloc[0]
    # The directly scored adaptive run (l1) is reproduced by replaying the one-stage run's l1 errors.
    assert (direct["evaluations"], direct["keep"], direct["loss"]) == ("2/4", "2/1", "l1")
    assert direct["passes_per_image"] == 24 and direct["replay_agreement"] == 100.0
    assert direct["accuracy"] == pytest.approx(accuracy["adaptive"]) and direct["max_error_difference"] < 1e-4
    # The sequential strategy's curve: in the study table, and per run against one stage and the reference.
    assert set(study.loc[study["strategy"] == "sequential", "schedule"]) == {
        "sequential k=0.5, block 1, min 2", "sequential k=2, block 1, min 2"}
    seq = pd.read_csv(micro_run / "tables/sequential_study.csv")
    assert list(dict.fromkeys(seq["run"])) == ["digits/digits_unet", "digits/digits_text"]
    ones = seq[seq["rule"] == "one stage"].set_index("run")
    assert ones.loc["digits/digits_unet", "accuracy"] == pytest.approx(accuracy["even25"])
    assert (ones["passes_per_image"] == 40).all() and (ones["agreement_with_one_stage"] == 100).all()
    assert (seq.loc[seq["kind"] == "sequential", "passes_per_image"] <= 40).all()
    assert (micro_run / "figures/sequential_study.png").read_bytes()[:4] == b"\x89PNG"
    # opt_in runs are scored for the study but are no rows of the classification table
    assert "grid4" not in set(pd.read_csv(micro_run / "tables/classification.csv")["strategy"])


# --- zero-shot and compositional part ----------------------------------------------------
def test_zeroshot_and_compositional_tables(micro_run):
    zeroshot = pd.read_csv(micro_run / "tables/zeroshot.csv")
    assert zeroshot[["dataset", "model", "strategy"]].values.tolist() == [["digits", "digits_text", "adaptive"]]
    assert zeroshot["template"].tolist() == ["a picture of a {}"] and (zeroshot["images"] == 20).all()
    table = pd.read_csv(micro_run / "conditioning/digits/digits_text/prompts.csv")
    assert table["prompt"].tolist() == [f"a picture of a {d}" for d in range(10)]
    assert (micro_run / "conditioning/digits/digits_text/embeddings.safetensors").exists()
    shard = read_shard(micro_run / "scores/digits/digits_text/adaptive/shard-000")
    assert shard.provenance["settings"]["prompts"]["templates"] == ["a picture of a {}"]

    compositional = pd.read_csv(micro_run / "tables/compositional.csv")
    subsets = dict(zip(compositional["subset"], compositional["examples"]))
    assert subsets == {"all": 45, "collapsed_tag=Object": 45, "tag=seen": 40, "tag=unseen": 5}
    assert ((compositional["group"] <= compositional["text"]) & (compositional["group"] <= compositional["image"])).all()
    pairs = [read_shard(p) for p in sorted((micro_run / "pairs/digit_captions/digits_text/pairs25").glob("shard-*"))]
    assert sum(len(p.images) for p in pairs) == 90 and all(set(p.errors["condition"]) == {0, 1} for p in pairs)
    for rule in ("prepare_prompts", "score_pairs", "aggregate_pairs", "make_zeroshot_table",
                 "make_compositional_table"):
        assert list((micro_run / "logs" / rule).rglob("*.log")), rule
        assert list((micro_run / "benchmarks" / rule).rglob("*.tsv")), rule


# --- exact regeneration ------------------------------------------------------------------
def _dvc_outs() -> list[str]:
    """The result folders DVC versions (dvc.yaml's outs), relative to the results directory; the
    files kept in git (``{path: {cache: false}}``, the metrics' detail) are not folders."""
    import yaml

    outs = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["embedded"]["outs"]
    return [out.removeprefix("results/") for out in outs if isinstance(out, str)]


def test_a_rerun_regenerates_every_versioned_artifact_exactly(micro_run, tmp_path):
    """What `dvc repro` does after a change that alters nothing: remove the outputs, run again.

    Every file DVC versions must come back byte-identical, with no field masked: measured
    time lives apart, in results/timing, which DVC does not version.
    """
    import shutil

    assert "timing" not in _dvc_outs()
    first = tmp_path / "first"
    for out in _dvc_outs():
        if (micro_run / out).exists():
            shutil.copytree(micro_run / out, first / out)
            shutil.rmtree(micro_run / out)
    timing_before = {p: p.read_bytes() for p in (micro_run / "timing").rglob("*") if p.is_file()}
    run = snakemake(micro_run)
    assert run.returncode == 0, run.stderr[-4000:]
    files = {p.relative_to(first) for p in first.rglob("*") if p.is_file()}
    assert files == {p.relative_to(micro_run) for out in _dvc_outs() for p in (micro_run / out).rglob("*")
                     if p.is_file()}
    differing = [str(rel) for rel in sorted(files) if (first / rel).read_bytes() != (micro_run / rel).read_bytes()]
    assert not differing, f"not regenerated byte for byte: {differing}"
    # The rerun measured its time again, in the timing tree.
    shard = next((micro_run / "scores").rglob("shard-000"))
    timing = json.loads((micro_run / "timing" / shard.relative_to(micro_run).parent / "shard-000.timing.json")
                        .read_text())
    assert timing["artifact"] == shard.relative_to(micro_run).as_posix()
    assert set(timing["image_seconds"]) == set(read_shard(shard).images["image_id"])
    assert any(timing_before[p] != p.read_bytes() for p in timing_before if p.exists())


def test_measured_time_lives_apart_and_names_its_artifact(micro_run):
    """Every timing file names an artifact that exists; the runtime table is in the timing tree."""
    timing_files = sorted((micro_run / "timing").rglob("*.timing.json"))
    measured = {json.loads(p.read_text())["artifact"] for p in timing_files}
    assert any(a.startswith("scores/") for a in measured) and any(a.startswith("models/") for a in measured)
    assert all((micro_run / a).exists() for a in measured), measured
    runtime = pd.read_csv(micro_run / "timing/runtime.csv")
    assert len(runtime) == len(pd.read_csv(micro_run / "tables/classification.csv"))
    assert (runtime["seconds_per_image"] > 0).all()
    assert not (micro_run / "tables/runtime.csv").exists()


# --- what review tools read: metrics, provenance, the HTML report ---------------------------
def test_metrics_and_provenance_cover_every_table_and_run(micro_run):
    metrics = json.loads((micro_run / "metrics_detail.json").read_text())
    headline = json.loads((micro_run / "metrics.json").read_text())
    tables = {p.stem for p in (micro_run / "tables").glob("*.csv")} - {"runtime", "provenance"}
    assert set(metrics) == tables and set(headline) < tables
    assert sum(len(columns) for rows in headline.values() for columns in rows.values()) <= 60  # a few dozen
    classification = pd.read_csv(micro_run / "tables/classification.csv")
    for row in classification.itertuples():
        key = f"{row.dataset}/{row.model}/{row.strategy}"
        assert metrics["classification"][key]["accuracy"] == headline["classification"][key]["accuracy"] == \
            pytest.approx(row.accuracy)
    provenance = pd.read_csv(micro_run / "tables/provenance.csv")
    assert len(provenance) == len(classification) + len(pd.read_csv(micro_run / "tables/compositional.csv")
                                                         [["dataset", "model", "strategy"]].drop_duplicates())
    assert provenance["weights_sha256"].str.len().eq(64).all() and provenance["code_version"].str.len().gt(0).all()


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def report(micro_run, tmp_path_factory) -> Path:
    """`snakemake --report` of the micro run: one self-contained HTML file."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    made = snakemake(micro_run, "--report", str(path))
    assert made.returncode == 0, made.stderr[-3000:]
    return path


def _report_results(report: Path) -> dict[str, dict]:
    """The results the report embeds (its ``var results = {...}``): path -> mime type, caption, data URI."""
    text = report.read_text()
    start = text.index("var results = ", text.index('<script id="results">')) + len("var results = ")
    return json.JSONDecoder().raw_decode(text, start)[0]


def _expected_items(micro_run: Path) -> set[str]:
    """Every table (its HTML) and figure the report shows."""
    return {p.name for folder in ("tables", "timing") for p in (micro_run / folder).glob("*.html")} | {
        p.name for p in (micro_run / "figures").glob("*.png")}


def test_the_report_embeds_every_table_as_an_html_table_of_its_cells(micro_run, report):
    """Without a browser: each table in the report is HTML (shown inline) whose cells are the
    table's, the interval in one cell; captions are short and name no config key."""
    import base64

    from helpers.tables import html_rows, markdown_rows

    results = _report_results(report)
    assert {Path(path).name for path in results} == _expected_items(micro_run)
    for path, entry in results.items():
        name = Path(path).name
        assert entry["caption"].count(". ") <= 4, f"{name}: caption of more than ~3 sentences"
        assert not re.search(r"\b[a-z_]+\.[a-z_]+\.[a-z_]+\b", entry["caption"]), f"{name}: config key in caption"
        if name.endswith(".png"):
            assert entry["mime_type"] == "image/png", name
            continue
        assert entry["mime_type"] == "text/html", name
        rows = html_rows(base64.b64decode(entry["data_uri"].split(",", 1)[1]).decode())
        folder = "timing" if name == "runtime.html" else "tables"
        assert rows == markdown_rows((micro_run / folder / name).with_suffix(".md").read_text()), name
        assert len(rows) >= 2 and all(len(row) == len(rows[0]) for row in rows), name
    classification = results[next(p for p in results if p.endswith("classification.html"))]
    rows = html_rows(base64.b64decode(classification["data_uri"].split(",", 1)[1]).decode())
    cell = rows[0].index("accuracy [CI]")
    table = pd.read_csv(micro_run / "tables/classification.csv")
    assert sorted(row[cell] for row in rows[1:]) == sorted(
        f"{r.accuracy:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}]" for r in table.itertuples())


# Injected into a copy of the report: once the app has rendered, decode every result the
# report embeds in the browser (images must load; a table, drawn in a frame as the report
# draws it, must show its cells) and write the outcome into the page, which --dump-dom prints.
_REPORT_CHECK = """
<script>
window.addEventListener("load", () => setTimeout(async () => {
  const out = {menu: document.body.textContent, items: {}};
  for (const [path, entry] of Object.entries(results)) {
    const name = path.split("/").pop();
    if (entry.mime_type.startsWith("image/")) {
      const img = new Image();
      const ok = await new Promise(done => { img.onload = () => done(img.naturalWidth > 0);
                                             img.onerror = () => done(false); img.src = entry.data_uri; });
      out.items[name] = {kind: "image", ok, caption: entry.caption.length};
    } else {
      const frame = document.createElement("iframe");
      frame.style.width = "1200px"; frame.style.height = "800px";
      document.body.appendChild(frame);
      const bytes = Uint8Array.from(atob(entry.data_uri.split(",")[1]), c => c.charCodeAt(0));
      await new Promise(done => { frame.onload = done; frame.srcdoc = new TextDecoder().decode(bytes); });
      const cells = [...frame.contentDocument.querySelectorAll("td")];
      const visible = cells.filter(td => { const r = td.getBoundingClientRect();
                                           return r.width > 0 && r.height > 0 && td.textContent.trim(); });
      out.items[name] = {kind: "table", ok: cells.length > 0 && visible.length === cells.length,
                         cells: cells.length, caption: entry.caption.length};
      frame.remove();
    }
  }
  const pre = document.createElement("pre");
  pre.id = "report-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 1000));
</script>
"""


def test_the_html_report_renders_every_table_and_figure(micro_run, report, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH: `apt-get install chromium` (CI's .ci/run installs it); "
                    "test_the_report_embeds_every_table_as_an_html_table_of_its_cells checks the cells without one")
    page = tmp_path / "checked.html"
    page.write_text(report.read_text().replace("</body>", _REPORT_CHECK + "</body>"))
    shot = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
                           f"--screenshot={tmp_path / 'report.png'}", "--window-size=1400,1000", report.as_uri()],
                          capture_output=True, text=True, timeout=300)
    assert shot.returncode == 0 and (tmp_path / "report.png").stat().st_size > 0, shot.stderr[-2000:]
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=300)
    found = re.search(r'<pre id="report-check">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"the report did not render in {browser}: {dom.stderr[-2000:]}"
    import html

    check = json.loads(html.unescape(found.group(1)))
    for category in ("Tables", "Figures", "Provenance", "Timing"):
        assert category in check["menu"]
    assert set(check["items"]) == _expected_items(micro_run)
    bad = {name: item for name, item in check["items"].items() if not item["ok"] or not item["caption"]}
    assert not bad, f"items that do not render (images) or show no table cells (tables), or lack a caption: {bad}"
