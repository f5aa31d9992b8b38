# Analyses of stored per-pair errors for the supervised setup: Figures 3-4, Table 5 and
# the passes-vs-accuracy study. Nothing here rescores; each rule reads score_shard outputs,
# but the class-count study, which scores a model known in closed form.


rule figures_timesteps:
    """Figure 3 (single timestep) and Figure 4 (timestep strategies) from stored errors."""
    conda:
        CONDA_ENV
    input:
        even=lambda w: shards_of(TIMESTEPS["dataset"], TIMESTEPS["model"], TIMESTEPS["even"]),
        repeats=lambda w: shards_of(TIMESTEPS["dataset"], TIMESTEPS["model"], TIMESTEPS["repeats"]),
    output:
        fig3_png=artifact_output("fig3", "png"),
        fig3_csv=artifact_output("fig3", "csv"),
        fig4_png=artifact_output("fig4", "png"),
        fig4_csv=artifact_output("fig4", "csv"),
    params:
        caption=report_caption("fig3", "fig4"),
        loss=lambda w: TIMESTEPS["loss"],
        sets=lambda w: as_json(TIMESTEPS["sets"]),
        names=lambda w: as_json({"dataset": TIMESTEPS["dataset"], "model": TIMESTEPS["model"]}),
    log:
        f"{RESULTS}/logs/figures_timesteps/figures_timesteps.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures_timesteps/figures_timesteps.tsv"
    shell:
        "diffusion-classifier figures-timesteps --even-shards {input.even:q} --repeats-shards {input.repeats:q} "
        "--loss {params.loss:q} --sets {params.sets:q} --names {params.names:q} "
        "--output-fig3-png {output.fig3_png:q} --output-fig3-csv {output.fig3_csv:q} "
        "--output-fig4-png {output.fig4_png:q} --output-fig4-csv {output.fig4_csv:q} > {log:q} 2>&1"


rule table_objectives:
    """Table 5: accuracy per objective (l2, VLB, l2 + VLB) from one stored pass per run."""
    conda:
        CONDA_ENV
    input:
        lambda w: [shard for run in objective_runs() for shard in run["shards"]],
    output:
        md=artifact_output("table5", "md"),
        html=artifact_output("table5", "html"),
        csv=artifact_output("table5", "csv"),
    params:
        caption=report_caption("table5"),
        runs=lambda w: as_json(objective_runs()),
        objectives=lambda w: SUPERVISED["objectives"]["objectives"],
    log:
        f"{RESULTS}/logs/table_objectives/table_objectives.log",
    benchmark:
        f"{RESULTS}/benchmarks/table_objectives/table_objectives.tsv"
    shell:
        "diffusion-classifier table-objectives --runs {params.runs:q} --objectives {params.objectives:q} "
        "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule schedule_study:
    """Passes vs accuracy of adaptive schedules replayed from one stored one-stage run."""
    conda:
        CONDA_ENV
    input:
        shards=lambda w: shards_of(STUDY["dataset"], STUDY["model"], STUDY["strategy"]),
        direct=lambda w: [shard for run in study_direct() for shard in run["shards"]],
        sequential=lambda w: [shard for run in study_sequential_runs() for shard in run["shards"]],
    output:
        md=artifact_output("schedule_study", "md"),
        html=artifact_output("schedule_study", "html"),
        csv=artifact_output("schedule_study", "csv"),
        figure=artifact_output("schedule_study", "png"),
        sequential=(
            [
                artifact_output("sequential_study", "md"),
                artifact_output("sequential_study", "csv"),
                artifact_output("sequential_study", "png"),
            ]
            if requested("sequential_study")
            else []
        ),
        # Written beside the sequential study's .md (reporting.tables.write_table).
        sequential_html=artifact_output("sequential_study", "html") if requested("sequential_study") else [],
    params:
        caption=report_caption("schedule_study", *(["sequential_study"] if requested("sequential_study") else [])),
        study=as_json(STUDY.get("study", {})),
        direct=lambda w: as_json(study_direct()),
        sequential_runs=lambda w: as_json(study_sequential_runs()),
        names=lambda w: as_json({"dataset": STUDY["dataset"], "model": STUDY["model"]}),
    log:
        f"{RESULTS}/logs/schedule_study/schedule_study.log",
    benchmark:
        f"{RESULTS}/benchmarks/schedule_study/schedule_study.tsv"
    shell:
        "diffusion-classifier schedule-study --shard-dirs {input.shards:q} --study {params.study:q} "
        "--direct {params.direct:q} --names {params.names:q} --output-md {output.md:q} --output-csv {output.csv:q} "
        "--output-figure {output.figure:q} --sequential-runs {params.sequential_runs:q} "
        "--output-sequential {output.sequential:q} > {log:q} 2>&1"


rule class_count_study:
    """Sequential elimination at 10 to 1,000 classes, on a Gaussian model with an exact noise prediction."""
    conda:
        CONDA_ENV
    output:
        md=artifact_output("class_count_study", "md"),
        csv=artifact_output("class_count_study", "csv"),
        html=artifact_output("class_count_study", "html"),
        figure=artifact_output("class_count_study", "png"),
    params:
        caption=report_caption("class_count_study"),
        study=lambda w: as_json(STUDY["class_count"]),
    threads: THREADS
    log:
        f"{RESULTS}/logs/class_count_study/class_count_study.log",
    benchmark:
        f"{RESULTS}/benchmarks/class_count_study/class_count_study.tsv"
    shell:
        "diffusion-classifier class-count-study --study {params.study:q} --output-md {output.md:q} "
        "--output-csv {output.csv:q} --output-figure {output.figure:q} --threads {threads:q} > {log:q} 2>&1"
