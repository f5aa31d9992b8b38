# CLIP baselines (zero-shot: Table 1; Winoground: Table 3) and the assembly of Table 1.


rule clip_zero_shot:
    """Zero-shot predictions of one CLIP model on one dataset ("n/a" if weights are missing)."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        table=lambda w: released_table_of(w.dataset),
    output:
        predictions=f"{RESULTS}/baselines/clip_zero_shot/{{clip_model}}/{{dataset}}.parquet",
        summary=clip_summary("{clip_model}", "{dataset}"),
    params:
        clip_model=lambda w: as_json(CLIP_MODELS[w.clip_model]),
        zero_shot=as_json(ZERO_SHOT),
        names=lambda w: as_json({"model": w.clip_model, "dataset": w.dataset}),
        prompt=lambda w: as_json(prompt_settings(w.dataset)),
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/clip_zero_shot/{{clip_model}}/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/clip_zero_shot/{{clip_model}}/{{dataset}}.tsv"
    shell:
        "diffusion-classifier clip-zero-shot --dataset-dir {input.dataset:q} --clip-model {params.clip_model:q} "
        "--zero-shot {params.zero_shot:q} --names {params.names:q} --prompt {params.prompt:q} "
        "--output-predictions {output.predictions:q} --output-summary {output.summary:q} "
        "--threads {threads:q} > {log:q} 2>&1"


rule clip_winoground:
    """Winoground text/image/group scores of one CLIP model from caption-image similarities."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(WINOGROUND["dataset"]),
    output:
        per_example=f"{RESULTS}/baselines/clip_winoground/{{clip_model}}.parquet",
        summary=clip_winoground_summary("{clip_model}"),
    params:
        clip_model=lambda w: as_json(CLIP_MODELS[w.clip_model]),
        winoground=as_json(WINOGROUND),
        names=lambda w: as_json({"model": w.clip_model, "dataset": "winoground"}),
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/clip_winoground/{{clip_model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/clip_winoground/{{clip_model}}.tsv"
    shell:
        "diffusion-classifier clip-winoground --dataset-dir {input.dataset:q} --clip-model {params.clip_model:q} "
        "--winoground {params.winoground:q} --names {params.names:q} "
        "--output-examples {output.per_example:q} --output-summary {output.summary:q} "
        "--threads {threads:q} > {log:q} 2>&1"


rule make_table1:
    """Table 1: every method x dataset from its summary file, the paper's beside ours."""
    conda:
        CONDA_ENV
    input:
        lambda w: table1_inputs(),
    output:
        md=artifact_output("table1", "md"),
        html=artifact_output("table1", "html"),
        csv=artifact_output("table1", "csv"),
    params:
        caption=report_caption("table1"),
        sources=lambda w: as_json(table1_sources()),
        datasets=lambda w: TABLE1["datasets"],
    log:
        f"{RESULTS}/logs/make_table1/make_table1.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_table1/make_table1.tsv"
    shell:
        "diffusion-classifier make-table1 --sources {params.sources:q} --datasets {params.datasets:q} "
        "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"
