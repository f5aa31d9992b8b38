# Zero-shot classification (paper Table 1) and compositional reasoning (Table 3) with
# text-conditional models: prompts are encoded once per dataset x model
# (prepare_prompts), classification runs go through score_shard with that table,
# Winoground-format datasets through score_pairs.
from diffusion_classifier.models import adapter_uses_prompts
from diffusion_classifier.models.released_prompts import AUTHORS_PROMPTS_URL

COMPOSITIONAL = config.get("compositional", [])
PROMPT_TABLES = config.get("prompt_tables", {})


def uses_prompts(model):
    return adapter_uses_prompts(config["models"][model]["adapter"])


def prompts_dir(dataset, model):
    return f"{RESULTS}/conditioning/{dataset}/{model}"


def prompts_input(wildcards):
    """The prompt table a scoring job reads (text-conditional models only)."""
    if uses_prompts(wildcards.model):
        return [prompts_dir(wildcards.dataset, wildcards.model)]
    return []


def prompts_arg(wildcards):
    """``--prompts-dir DIR`` as a list of words, for ``{params.prompts:q}`` (empty without prompts)."""
    return [word for path in prompts_input(wildcards) for word in ("--prompts-dir", path)]


def released_table(dataset):
    """The verified copy of a dataset's released prompt table (rule fetch_prompt_table)."""
    return f"{RESULTS}/prompt_tables/{dataset}.csv"


def released_table_source(dataset):
    """(URL, download cache path) of a dataset's released table; see the schema's prompt_tables."""
    name = config["datasets"][dataset]["prompt_table"]["file"]
    base_url = PROMPT_TABLES.get("base_url", AUTHORS_PROMPTS_URL).rstrip("/")
    return f"{base_url}/{name}", f"{PROMPT_TABLES.get('dir', 'data/raw/prompts')}/{name}"


def released_table_input(wildcards):
    return [released_table(wildcards.dataset)] if config["datasets"][wildcards.dataset].get("prompt_table") else []


def prompt_settings(dataset):
    """The dataset's prompt source as prepare-prompts takes it: a released table, or template (+ names)."""
    spec = config["datasets"][dataset]
    if spec.get("prompt_table"):
        table = spec["prompt_table"]
        return {"table": released_table(dataset), "identical_prompts": table.get("identical_prompts", [])}
    settings = {"template": spec.get("prompt_template", "{}")}
    if spec.get("prompt_class_names"):
        settings["class_names"] = spec["prompt_class_names"]
    return settings


def compositional_run(wildcards):
    for run in COMPOSITIONAL:
        if (run["dataset"], run["model"], run["strategy"]) == (
            wildcards.dataset,
            wildcards.model,
            wildcards.strategy,
        ):
            return run
    raise ValueError(
        f"no compositional run {wildcards.dataset}/{wildcards.model}/{wildcards.strategy}"
    )


def pair_shard_dirs(wildcards):
    return expand(
        "{results}/pairs/{dataset}/{model}/{strategy}/shard-{shard:03d}",
        results=RESULTS,
        dataset=wildcards.dataset,
        model=wildcards.model,
        strategy=wildcards.strategy,
        shard=range(NUM_SHARDS),
    )


ZEROSHOT_RUNS = [
    run
    for run in config["experiments"]
    if uses_prompts(run["model"]) and not run.get("opt_in", False)
]
ZEROSHOT_SUMMARIES = [
    f"{RESULTS}/predictions/{run['dataset']}/{run['model']}/{run['strategy']}.summary.json"
    for run in ZEROSHOT_RUNS
]
ZEROSHOT_PROMPTS = [prompts_dir(run["dataset"], run["model"]) for run in ZEROSHOT_RUNS]
COMPOSITIONAL_SUMMARIES = [
    f"{RESULTS}/compositional/{run['dataset']}/{run['model']}/{run['strategy']}.summary.json"
    for run in COMPOSITIONAL
]

if ZEROSHOT_RUNS:
    ALL_OUTPUTS.extend([f"{RESULTS}/tables/zeroshot.md", f"{RESULTS}/tables/zeroshot.csv"])
if COMPOSITIONAL:
    ALL_OUTPUTS.extend(
        [f"{RESULTS}/tables/compositional.md", f"{RESULTS}/tables/compositional.csv"]
    )


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
        identical=lambda w: as_json(config["datasets"][w.dataset]["prompt_table"].get("identical_prompts", [])),
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
        model=trained_model_input,
        table=released_table_input,
    output:
        directory(f"{RESULTS}/conditioning/{{dataset}}/{{model}}"),
    params:
        checkpoint=model_checkpoint,
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
        model=trained_model_input,
        prompts=lambda w: prompts_dir(w.dataset, w.model),
    output:
        directory(f"{RESULTS}/pairs/{{dataset}}/{{model}}/{{strategy}}/shard-{{shard}}"),
    params:
        checkpoint=model_checkpoint,
        model=lambda w: as_json(config["models"][w.model]),
        strategy=lambda w: as_json(config["strategies"][w.strategy]),
        scoring=as_json(SCORING),
        split=lambda w: compositional_run(w).get("split", "test"),
        names=lambda w: as_json(
            {"dataset": w.dataset, "model": w.model, "strategy": w.strategy}
        ),
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
        shards=pair_shard_dirs,
        dataset=lambda w: dataset_dir(w.dataset),
    output:
        examples=f"{RESULTS}/compositional/{{dataset}}/{{model}}/{{strategy}}.parquet",
        summary=f"{RESULTS}/compositional/{{dataset}}/{{model}}/{{strategy}}.summary.json",
    params:
        split=lambda w: compositional_run(w).get("split", "test"),
        group_by=lambda w: compositional_run(w).get("group_by", ["collapsed_tag"]),
        names=lambda w: as_json(
            {"dataset": w.dataset, "model": w.model, "strategy": w.strategy}
        ),
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
        summaries=ZEROSHOT_SUMMARIES,
        prompts=ZEROSHOT_PROMPTS,
    output:
        md=report(
            f"{RESULTS}/tables/zeroshot.md",
            caption="../report/zeroshot.rst",
            category="Tables",
        ),
        csv=f"{RESULTS}/tables/zeroshot.csv",
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
        COMPOSITIONAL_SUMMARIES + CONTRASTIVE_SUMMARIES,
    output:
        md=report(
            f"{RESULTS}/tables/compositional.md",
            caption="../report/compositional.rst",
            category="Tables",
        ),
        csv=f"{RESULTS}/tables/compositional.csv",
    log:
        f"{RESULTS}/logs/make_compositional_table/make_compositional_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_compositional_table/make_compositional_table.tsv"
    shell:
        "diffusion-classifier make-compositional-table --summary-paths {input:q} --output-md {output.md:q} --output-csv {output.csv:q} "
        "> {log:q} 2>&1"


# Paper Table 3: the Winoground run's text scores beside the CLIP rows and the paper's values.
TABLE3 = config.get("table3")
if TABLE3:
    TABLE3_CLIP = {
        model: f"{RESULTS}/baselines/clip_winoground/{model}.summary.json"
        for model in config.get("baselines", {}).get("winoground", {}).get("models", [])
    }
    ALL_OUTPUTS.extend([f"{RESULTS}/tables/table3.md", f"{RESULTS}/tables/table3.csv"])

    rule make_table3:
        """Table 3: Winoground text score by swap type, CLIP rows and ours, the paper's beside."""
        conda:
            CONDA_ENV
        input:
            diffusion=f"{RESULTS}/compositional/{TABLE3['dataset']}/{TABLE3['model']}/{TABLE3['strategy']}.summary.json",
            clip=list(TABLE3_CLIP.values()),
        output:
            md=report(f"{RESULTS}/tables/table3.md", caption="../report/table3.rst", category="Tables"),
            csv=f"{RESULTS}/tables/table3.csv",
        params:
            clip=as_json(TABLE3_CLIP),
        log:
            f"{RESULTS}/logs/make_table3/make_table3.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_table3/make_table3.tsv"
        shell:
            "diffusion-classifier make-table3 --diffusion-summary {input.diffusion:q} --clip-summaries {params.clip:q} "
            "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


# Paper Figure 5: examples of every caption-pair dataset of the compositional runs.
PAIR_EXAMPLES_PER_TAG = 3
ALL_OUTPUTS.extend(
    f"{RESULTS}/figures/fig5_examples_{dataset}.png" for dataset in sorted({run["dataset"] for run in COMPOSITIONAL})
)


rule figure_pair_examples:
    """Figure 5: the first examples of each swap type (collapsed tag), images and captions."""
    conda:
        CONDA_ENV
    input:
        lambda w: dataset_dir(w.dataset),
    output:
        report(f"{RESULTS}/figures/fig5_examples_{{dataset}}.png", caption="../report/pair_examples.rst",
               category="Figures"),
    params:
        per_tag=PAIR_EXAMPLES_PER_TAG,
    log:
        f"{RESULTS}/logs/figure_pair_examples/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_pair_examples/{{dataset}}.tsv"
    shell:
        "diffusion-classifier figure-pair-examples --dataset-dir {input:q} --per-tag {params.per_tag:q} "
        "--output {output:q} > {log:q} 2>&1"
