# Analyses of stored per-pair errors for the supervised setup: Figures 3-4, Table 5 and
# the passes-vs-accuracy study. Nothing here rescores; each rule reads score_shard outputs.
SUPERVISED = config.get("supervised", {})


def run_shards(dataset, model, strategy):
    """Shard directories of one scoring run (it must be listed in experiments)."""
    return expand(
        "{results}/scores/{dataset}/{model}/{strategy}/shard-{shard:03d}",
        results=RESULTS,
        dataset=dataset,
        model=model,
        strategy=strategy,
        shard=range(NUM_SHARDS),
    )


def objective_runs():
    """Table 5's runs with their shard directories, as the CLI takes them."""
    return [
        {**run, "shards": run_shards(run["dataset"], run["model"], run["strategy"])}
        for run in SUPERVISED["objectives"]["runs"]
    ]


if "timesteps" in SUPERVISED:
    TIMESTEPS = SUPERVISED["timesteps"]
    FIG3 = f"{RESULTS}/figures/fig3_single_timestep"
    FIG4 = f"{RESULTS}/figures/fig4_timestep_strategies"
    ALL_OUTPUTS.extend([f"{FIG3}.png", f"{FIG3}.csv", f"{FIG4}.png", f"{FIG4}.csv"])

    rule figures_timesteps:
        """Figure 3 (single timestep) and Figure 4 (timestep strategies) from stored errors."""
        conda:
            CONDA_ENV
        input:
            even=run_shards(TIMESTEPS["dataset"], TIMESTEPS["model"], TIMESTEPS["even"]),
            repeats=run_shards(TIMESTEPS["dataset"], TIMESTEPS["model"], TIMESTEPS["repeats"]),
        output:
            report(f"{FIG3}.png", caption="../report/timesteps.rst", category="Figures"),
            f"{FIG3}.csv",
            report(f"{FIG4}.png", caption="../report/timesteps.rst", category="Figures"),
            f"{FIG4}.csv",
        params:
            loss=TIMESTEPS.get("loss", "l2"),
            sets=as_json(TIMESTEPS["sets"]),
            names=as_json({"dataset": TIMESTEPS["dataset"], "model": TIMESTEPS["model"]}),
        log:
            f"{RESULTS}/logs/figures_timesteps/figures_timesteps.log",
        benchmark:
            f"{RESULTS}/benchmarks/figures_timesteps/figures_timesteps.tsv"
        shell:
            "diffusion-classifier figures-timesteps --even-shards {input.even:q} --repeats-shards {input.repeats:q} "
            "--loss {params.loss:q} --sets {params.sets:q} --names {params.names:q} "
            "--output-dir {RESULTS:q}/figures > {log:q} 2>&1"


if "objectives" in SUPERVISED:
    TABLE5 = f"{RESULTS}/tables/table5_objectives"
    ALL_OUTPUTS.extend([f"{TABLE5}.md", f"{TABLE5}.csv"])

    rule table_objectives:
        """Table 5: accuracy per objective (l2, VLB, l2 + VLB) from one stored pass per run."""
        conda:
            CONDA_ENV
        input:
            [shard for run in objective_runs() for shard in run["shards"]],
        output:
            md=report(f"{TABLE5}.md", caption="../report/objectives.rst", category="Tables"),
            csv=f"{TABLE5}.csv",
        params:
            runs=as_json(objective_runs()),
            objectives=SUPERVISED["objectives"].get("objectives", ["l2", "vlb", "l2_vlb"]),
        log:
            f"{RESULTS}/logs/table_objectives/table_objectives.log",
        benchmark:
            f"{RESULTS}/benchmarks/table_objectives/table_objectives.tsv"
        shell:
            "diffusion-classifier table-objectives --runs {params.runs:q} --objectives {params.objectives:q} "
            "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


if "schedules" in SUPERVISED:
    STUDY = SUPERVISED["schedules"]
    STUDY_TABLE = f"{RESULTS}/tables/schedule_study"
    STUDY_FIGURE = f"{RESULTS}/figures/passes_vs_accuracy.png"
    STUDY_DIRECT = [
        {"strategy": s, "shards": run_shards(STUDY["dataset"], STUDY["model"], s)}
        for s in STUDY.get("direct", [])
    ]
    ALL_OUTPUTS.extend([f"{STUDY_TABLE}.md", f"{STUDY_TABLE}.csv", STUDY_FIGURE])
    # The sequential strategy's curve over k (beyond the paper), on this run and further ones.
    SEQ_TABLE = f"{RESULTS}/tables/sequential_study"
    SEQ_FIGURE = f"{RESULTS}/figures/sequential_vs_passes.png"
    SEQ_OUTPUTS = [f"{SEQ_TABLE}.md", f"{SEQ_TABLE}.csv", SEQ_FIGURE] if STUDY.get("study", {}).get("sequential") else []
    SEQ_RUNS = [
        {"name": f"{r['dataset']}/{r['model']}", "shards": run_shards(r["dataset"], r["model"], r["strategy"])}
        for r in STUDY.get("sequential_runs", [])
    ]
    ALL_OUTPUTS.extend(SEQ_OUTPUTS)

    rule schedule_study:
        """Passes vs accuracy of adaptive schedules replayed from one stored one-stage run."""
        conda:
            CONDA_ENV
        input:
            shards=run_shards(STUDY["dataset"], STUDY["model"], STUDY["strategy"]),
            direct=[shard for run in STUDY_DIRECT for shard in run["shards"]],
            sequential=[shard for run in SEQ_RUNS for shard in run["shards"]],
        output:
            md=report(f"{STUDY_TABLE}.md", caption="../report/schedules.rst", category="Tables"),
            csv=f"{STUDY_TABLE}.csv",
            figure=report(STUDY_FIGURE, caption="../report/schedules.rst", category="Figures"),
            sequential=[
                report(f"{SEQ_TABLE}.md", caption="../report/sequential.rst", category="Tables"),
                f"{SEQ_TABLE}.csv",
                report(SEQ_FIGURE, caption="../report/sequential.rst", category="Figures"),
            ]
            if SEQ_OUTPUTS
            else [],
        params:
            study=as_json(STUDY.get("study", {})),
            direct=as_json(STUDY_DIRECT),
            sequential_runs=as_json(SEQ_RUNS),
            sequential_out=["--output-sequential", SEQ_TABLE, SEQ_FIGURE] if SEQ_OUTPUTS else [],
            names=as_json({"dataset": STUDY["dataset"], "model": STUDY["model"]}),
        log:
            f"{RESULTS}/logs/schedule_study/schedule_study.log",
        benchmark:
            f"{RESULTS}/benchmarks/schedule_study/schedule_study.tsv"
        shell:
            "diffusion-classifier schedule-study --shard-dirs {input.shards:q} --study {params.study:q} "
            "--direct {params.direct:q} --names {params.names:q} --output-md {output.md:q} --output-csv {output.csv:q} "
            "--output-figure {output.figure:q} --sequential-runs {params.sequential_runs:q} "
            "{params.sequential_out:q} > {log:q} 2>&1"
