rule score_shard:
    """Per-pair errors of one shard: the GPU job of the paper-scale run (resumable)."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        model=trained_model_input,
        prompts=lambda w: prompts_input(w),
    output:
        directory(f"{RESULTS}/scores/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}"),
    params:
        checkpoint=model_checkpoint,
        model=lambda w: as_json(config["models"][w.model]),
        strategy=lambda w: as_json(config["strategies"][w.strategy]),
        scoring=as_json(SCORING),
        split=experiment_split,
        names=lambda w: as_json(
            {"dataset": w.dataset, "model": w.model, "strategy": w.strategy}
        ),
        num_shards=NUM_SHARDS,
        prompts=lambda w: prompts_arg(w),
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
        "--names {params.names:q} {params.prompts:q} --threads {threads:q} --output-dir {output:q} > {log:q} 2>&1"


rule aggregate_scores:
    """Merge the shards of one dataset x model x strategy into predictions and a summary."""
    conda:
        CONDA_ENV
    input:
        shards=shard_dirs,
        dataset=lambda w: dataset_dir(w.dataset),
    output:
        predictions=f"{RESULTS}/predictions/{{dataset}}/{{model}}/{{strategy}}.parquet",
        summary=f"{RESULTS}/predictions/{{dataset}}/{{model}}/{{strategy}}.summary.json",
    params:
        names=lambda w: as_json(
            {"dataset": w.dataset, "model": w.model, "strategy": w.strategy}
        ),
    log:
        f"{RESULTS}/logs/aggregate_scores/{{dataset}}/{{model}}/{{strategy}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate_scores/{{dataset}}/{{model}}/{{strategy}}.tsv"
    shell:
        "diffusion-classifier aggregate-scores --shard-dirs {input.shards:q} --dataset-dir {input.dataset:q} "
        "--names {params.names:q} --output-predictions {output.predictions:q} "
        "--output-summary {output.summary:q} > {log:q} 2>&1"
