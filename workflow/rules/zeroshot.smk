# Zero-shot classification (paper Table 1) and compositional reasoning (Table 3) with
# text-conditional models: prompts are encoded once per dataset x model
# (prepare_prompts), classification runs go through score_shard with that table,
# Winoground-format datasets through score_pairs.


rule fetch_prompt_table:
    """The authors' released prompt table of a dataset: downloaded (or found in the cache), sha256-checked."""
    conda:
        CONDA_ENV
    output:
        f"{RESULTS}/prompt_tables/{{dataset}}.csv",
    params:
        url=lambda w: released_table_source(w.dataset)[0],
        cache=lambda w: released_table_source(w.dataset)[1],
        sha256=lambda w: config["datasets"][w.dataset]["prompt_table"]["sha256"],
        identical=lambda w: as_json(config["datasets"][w.dataset]["prompt_table"]["identical_prompts"]),
    log:
        f"{RESULTS}/logs/fetch_prompt_table/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_prompt_table/{{dataset}}.tsv"
    shell:
        "diffusion-classifier fetch-prompt-table --url {params.url:q} --sha256 {params.sha256:q} "
        "--cache {params.cache:q} --identical-prompts {params.identical:q} --output {output:q} > {log:q} 2>&1"


rule prepare_prompts:
    """Prompts (or captions) of one dataset and their text embeddings, once per model."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        model=lambda w: trained_model_of(w.model),
        table=lambda w: released_table_of(w.dataset),
    output:
        directory(f"{RESULTS}/conditioning/{{dataset}}/{{model}}"),
    params:
        checkpoint=lambda w: checkpoint_of(w.model),
        model=lambda w: as_json(config["models"][w.model]),
        prompt=lambda w: as_json(prompt_settings(w.dataset)),
        scoring=as_json(SCORING),
        names=lambda w: as_json({"dataset": w.dataset, "model": w.model}),
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/prepare_prompts/{{dataset}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/prepare_prompts/{{dataset}}/{{model}}.tsv"
    shell:
        "diffusion-classifier prepare-prompts --dataset-dir {input.dataset:q} --checkpoint {params.checkpoint:q} "
        "--model {params.model:q} --prompt {params.prompt:q} --scoring {params.scoring:q} "
        "--names {params.names:q} --threads {threads:q} --output-dir {output:q} > {log:q} 2>&1"


rule score_pairs:
    """Per-pair errors of one shard of a Winoground-format dataset (each image x its 2 captions)."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        model=lambda w: trained_model_of(w.model),
        prompts=lambda w: prompts_dir(w.dataset, w.model),
    output:
        directory(f"{RESULTS}/pairs/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}"),
    params:
        checkpoint=lambda w: checkpoint_of(w.model),
        model=lambda w: as_json(config["models"][w.model]),
        strategy=lambda w: as_json(config["strategies"][w.strategy]),
        scoring=as_json(SCORING),
        split=lambda w: compositional_run(w.dataset, w.model, w.strategy)["split"],
        names=run_names,
        num_shards=NUM_SHARDS,
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/score_pairs/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_pairs/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}.tsv"
    shell:
        "diffusion-classifier score-pairs --dataset-dir {input.dataset:q} --checkpoint {params.checkpoint:q} "
        "--model {params.model:q} --strategy {params.strategy:q} --scoring {params.scoring:q} "
        "--prompts-dir {input.prompts:q} --shard $((10#{wildcards.shard})) "
        "--num-shards {params.num_shards:q} --split {params.split:q} --names {params.names:q} "
        "--threads {threads:q} --output-dir {output:q} > {log:q} 2>&1"


rule aggregate_pairs:
    """Text, image and group scores of one compositional run, overall and per tag."""
    conda:
        CONDA_ENV
    input:
        shards=lambda w: shards_of(w.dataset, w.model, w.strategy, kind="pairs"),
        dataset=lambda w: dataset_dir(w.dataset),
    output:
        examples=f"{RESULTS}/compositional/{{dataset}}/{{model}}/{{strategy}}.parquet",
        summary=pair_summary_of("{dataset}", "{model}", "{strategy}"),
    params:
        split=lambda w: compositional_run(w.dataset, w.model, w.strategy)["split"],
        group_by=lambda w: compositional_run(w.dataset, w.model, w.strategy)["group_by"],
        names=run_names,
    log:
        f"{RESULTS}/logs/aggregate_pairs/{{dataset}}/{{model}}/{{strategy}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate_pairs/{{dataset}}/{{model}}/{{strategy}}.tsv"
    shell:
        "diffusion-classifier aggregate-pairs --shard-dirs {input.shards:q} --dataset-dir {input.dataset:q} "
        "--split {params.split:q} --group-by {params.group_by:q} --names {params.names:q} "
        "--output-examples {output.examples:q} --output-summary {output.summary:q} > {log:q} 2>&1"


rule make_zeroshot_table:
    """Zero-shot accuracy of the text-conditional models, with their prompt templates."""
    conda:
        CONDA_ENV
    input:
        summaries=lambda w: [summary_of(r["dataset"], r["model"], r["strategy"]) for r in zeroshot_runs()],
        prompts=lambda w: [prompts_dir(r["dataset"], r["model"]) for r in zeroshot_runs()],
    output:
        md=artifact_output("zeroshot", "md"),
        html=artifact_output("zeroshot", "html"),
        csv=artifact_output("zeroshot", "csv"),
    params:
        caption=report_caption("zeroshot"),
    log:
        f"{RESULTS}/logs/make_zeroshot_table/make_zeroshot_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_zeroshot_table/make_zeroshot_table.tsv"
    shell:
        "diffusion-classifier make-zeroshot-table --summary-paths {input.summaries:q} --prompt-dirs {input.prompts:q} "
        "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule make_compositional_table:
    """Winoground-style text, image and group scores of every compositional run."""
    conda:
        CONDA_ENV
    input:
        compositional_summaries() + contrastive_summaries(),
    output:
        md=artifact_output("compositional", "md"),
        html=artifact_output("compositional", "html"),
        csv=artifact_output("compositional", "csv"),
    params:
        caption=report_caption("compositional"),
    log:
        f"{RESULTS}/logs/make_compositional_table/make_compositional_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_compositional_table/make_compositional_table.tsv"
    shell:
        "diffusion-classifier make-compositional-table --summary-paths {input:q} --output-md {output.md:q} --output-csv {output.csv:q} "
        "> {log:q} 2>&1"


rule make_table3:
    """Table 3: Winoground text score by swap type, CLIP rows and ours, the paper's beside."""
    conda:
        CONDA_ENV
    input:
        diffusion=lambda w: pair_summary_of(TABLE3["dataset"], TABLE3["model"], TABLE3["strategy"]),
        clip=lambda w: list(table3_clip().values()),
    output:
        md=artifact_output("table3", "md"),
        html=artifact_output("table3", "html"),
        csv=artifact_output("table3", "csv"),
    params:
        caption=report_caption("table3"),
        clip=lambda w: as_json(table3_clip()),
    log:
        f"{RESULTS}/logs/make_table3/make_table3.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_table3/make_table3.tsv"
    shell:
        "diffusion-classifier make-table3 --diffusion-summary {input.diffusion:q} --clip-summaries {params.clip:q} "
        "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule figure_pair_examples:
    """Figure 5: the first examples of each swap type (collapsed tag), images and captions."""
    conda:
        CONDA_ENV
    input:
        lambda w: dataset_dir(w.dataset),
    output:
        artifact_output("fig5", "png"),
    params:
        caption=report_caption("fig5"),
        per_tag=PAIR_EXAMPLES_PER_TAG,
    log:
        f"{RESULTS}/logs/figure_pair_examples/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_pair_examples/{{dataset}}.tsv"
    shell:
        "diffusion-classifier figure-pair-examples --dataset-dir {input:q} --per-tag {params.per_tag:q} "
        "--output {output:q} > {log:q} 2>&1"
