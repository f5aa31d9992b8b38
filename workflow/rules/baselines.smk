# CLIP baselines (zero-shot: Table 1; Winoground: Table 3) and the assembly of Table 1.
BASELINES = config.get("baselines", {})
CLIP_MODELS = BASELINES.get("clip_models", {})
ZERO_SHOT = BASELINES.get("zero_shot")
WINOGROUND = BASELINES.get("winoground")
TABLE1 = config.get("table1")


def clip_summary(model, dataset):
    return f"{RESULTS}/baselines/clip_zero_shot/{model}/{dataset}.summary.json"


if TABLE1:
    for _dataset, _run in TABLE1.get("diffusion_classifier", {}).items():
        TABLE1_SOURCES.setdefault("diffusion_classifier", {})[_dataset] = (
            f"{RESULTS}/predictions/{_dataset}/{_run['model']}/{_run['strategy']}.summary.json"
        )
    if ZERO_SHOT:
        for _model in ZERO_SHOT["models"]:
            _row = CLIP_MODELS[_model].get("table1_row")
            for _dataset in ZERO_SHOT["datasets"]:
                if _row and _dataset in TABLE1["datasets"]:
                    TABLE1_SOURCES.setdefault(_row, {})[_dataset] = clip_summary(_model, _dataset)


def table1_inputs(wildcards):
    """Every registered Table 1 summary (read at DAG time, after all rules files)."""
    return sorted({path for cells in TABLE1_SOURCES.values() for path in cells.values()})


if ZERO_SHOT:

    ALL_OUTPUTS.extend(
        clip_summary(m, d) for m in ZERO_SHOT["models"] for d in ZERO_SHOT["datasets"]
    )

    rule clip_zero_shot:
        """Zero-shot predictions of one CLIP model on one dataset ("n/a" if weights are missing)."""
        conda:
            CONDA_ENV
        input:
            dataset=lambda w: dataset_dir(w.dataset),
        output:
            predictions=f"{RESULTS}/baselines/clip_zero_shot/{{clip_model}}/{{dataset}}.parquet",
            summary=f"{RESULTS}/baselines/clip_zero_shot/{{clip_model}}/{{dataset}}.summary.json",
        params:
            clip_model=lambda w: as_json(CLIP_MODELS[w.clip_model]),
            zero_shot=as_json(ZERO_SHOT),
            names=lambda w: as_json({"model": w.clip_model, "dataset": w.dataset}),
        threads: THREADS
        resources:
            gpu=1,
        log:
            f"{RESULTS}/logs/clip_zero_shot/{{clip_model}}/{{dataset}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/clip_zero_shot/{{clip_model}}/{{dataset}}.tsv"
        shell:
            "diffusion-classifier clip-zero-shot --dataset-dir {input.dataset:q} --clip-model {params.clip_model:q} "
            "--zero-shot {params.zero_shot:q} --names {params.names:q} "
            "--output-predictions {output.predictions:q} --output-summary {output.summary:q} "
            "--threads {threads:q} > {log:q} 2>&1"


if WINOGROUND:

    ALL_OUTPUTS.extend(
        f"{RESULTS}/baselines/clip_winoground/{m}.summary.json" for m in WINOGROUND["models"]
    )

    rule clip_winoground:
        """Winoground text/image/group scores of one CLIP model from caption-image similarities."""
        conda:
            CONDA_ENV
        input:
            dataset=dataset_dir(WINOGROUND["dataset"]),
        output:
            per_example=f"{RESULTS}/baselines/clip_winoground/{{clip_model}}.parquet",
            summary=f"{RESULTS}/baselines/clip_winoground/{{clip_model}}.summary.json",
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


if TABLE1:

    ALL_OUTPUTS.extend([f"{RESULTS}/tables/table1.md", f"{RESULTS}/tables/table1.csv"])

    rule make_table1:
        """Table 1: every method x dataset from its summary file, the paper's beside ours."""
        conda:
            CONDA_ENV
        input:
            table1_inputs,
        output:
            md=report(f"{RESULTS}/tables/table1.md", caption="../report/table1.rst", category="Tables"),
            csv=f"{RESULTS}/tables/table1.csv",
        params:
            sources=lambda w: as_json(TABLE1_SOURCES),
            datasets=TABLE1["datasets"],
        log:
            f"{RESULTS}/logs/make_table1/make_table1.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_table1/make_table1.tsv"
        shell:
            "diffusion-classifier make-table1 --sources {params.sources:q} --datasets {params.datasets:q} "
            "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"
