rule score_shard:
    """Per-pair errors of one shard: the GPU job of the paper-scale run (resumable)."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        model=lambda w: trained_model_of(w.model),
        prompts=lambda w: prompts_of(w.dataset, w.model),
        calibration=calibration_inputs,
    output:
        directory(f"{RESULTS}/scores/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}"),
    params:
        checkpoint=lambda w: checkpoint_of(w.model),
        model=lambda w: as_json(config["models"][w.model]),
        strategy=lambda w: as_json(config["strategies"][w.strategy]),
        scoring=as_json(SCORING),
        split=lambda w: experiment_split(w.dataset, w.model, w.strategy),
        names=run_names,
        num_shards=NUM_SHARDS,
        prompts=lambda w: prompts_flag(w.dataset, w.model),
        calibration=calibration_flag,
    threads: THREADS
    priority: 1  # after training, the critical path (see train_model)
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/score_shard/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_shard/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}.tsv"
    shell:
        "diffusion-classifier score-shard --dataset-dir {input.dataset:q} --checkpoint {params.checkpoint:q} "
        "--model {params.model:q} --strategy {params.strategy:q} --scoring {params.scoring:q} "
        "--shard $((10#{wildcards.shard})) --num-shards {params.num_shards:q} --split {params.split:q} "
        "--names {params.names:q} {params.prompts:q} {params.calibration:q} --threads {threads:q} "
        "--output-dir {output:q} > {log:q} 2>&1"


rule aggregate_scores:
    """Merge the shards of one dataset x model x strategy into predictions and a summary."""
    conda:
        CONDA_ENV
    input:
        shards=lambda w: shards_of(w.dataset, w.model, w.strategy),
        dataset=lambda w: dataset_dir(w.dataset),
    output:
        predictions=f"{RESULTS}/predictions/{{dataset}}/{{model}}/{{strategy}}.parquet",
        summary=summary_of("{dataset}", "{model}", "{strategy}"),
    params:
        names=run_names,
    log:
        f"{RESULTS}/logs/aggregate_scores/{{dataset}}/{{model}}/{{strategy}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate_scores/{{dataset}}/{{model}}/{{strategy}}.tsv"
    shell:
        "diffusion-classifier aggregate-scores --shard-dirs {input.shards:q} --dataset-dir {input.dataset:q} "
        "--names {params.names:q} --output-predictions {output.predictions:q} "
        "--output-summary {output.summary:q} > {log:q} 2>&1"


rule score_calibration:
    """A sequential run's calibration set: the first images of another split, at one stage on its grid."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        model=lambda w: trained_model_of(w.model),
        prompts=lambda w: prompts_of(w.dataset, w.model),
    output:
        directory(f"{RESULTS}/calibration/{{dataset}}/{{model}}/{{strategy}}/scores"),
    params:
        checkpoint=lambda w: checkpoint_of(w.model),
        model=lambda w: as_json(config["models"][w.model]),
        strategy=lambda w: as_json(config["strategies"][w.strategy]),
        scoring=as_json(SCORING),
        split=lambda w: experiment_of(w.dataset, w.model, w.strategy)["calibration"]["split"],
        images=lambda w: experiment_of(w.dataset, w.model, w.strategy)["calibration"]["images"],
        names=run_names,
        prompts=lambda w: prompts_flag(w.dataset, w.model),
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/score_calibration/{{dataset}}/{{model}}/{{strategy}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_calibration/{{dataset}}/{{model}}/{{strategy}}.tsv"
    shell:
        "diffusion-classifier score-calibration --dataset-dir {input.dataset:q} --checkpoint {params.checkpoint:q} "
        "--model {params.model:q} --strategy {params.strategy:q} --scoring {params.scoring:q} "
        "--split {params.split:q} --images {params.images:q} --names {params.names:q} {params.prompts:q} "
        "--threads {threads:q} --output-dir {output:q} > {log:q} 2>&1"


rule fit_calibration:
    """The conditional test's calibration (mean and covariance of paired differences) from its set."""
    conda:
        CONDA_ENV
    input:
        f"{RESULTS}/calibration/{{dataset}}/{{model}}/{{strategy}}/scores",
    output:
        calibration_file("{dataset}", "{model}", "{strategy}"),
    params:
        loss=lambda w: config["strategies"][w.strategy]["loss"],
        images=lambda w: experiment_of(w.dataset, w.model, w.strategy)["calibration"]["images"],
    log:
        f"{RESULTS}/logs/fit_calibration/{{dataset}}/{{model}}/{{strategy}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fit_calibration/{{dataset}}/{{model}}/{{strategy}}.tsv"
    shell:
        "diffusion-classifier fit-calibration --shards {input:q} --loss {params.loss:q} --images {params.images:q} "
        "--output {output:q} > {log:q} 2>&1"
