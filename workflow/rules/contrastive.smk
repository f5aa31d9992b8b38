# The contrastive (CLIP-analogue) baseline of the compositional table (section `contrastive`):
# a row beside the diffusion classifier's.


rule evaluate_contrastive:
    """Train the contrastive baseline on the corpus and score the caption-pair examples."""
    conda:
        CONDA_ENV
    input:
        lambda wildcards: dataset_dir(wildcards.dataset),
    output:
        summary=contrastive_summary_of("{dataset}"),
        examples=f"{RESULTS}/compositional/contrastive/{{dataset}}.examples.parquet",
    params:
        train=lambda w: as_json(CONTRASTIVE["train"]),
        group_by=lambda w: CONTRASTIVE["group_by"],
        split=lambda w: CONTRASTIVE["split"],
        names=lambda wildcards: as_json({"dataset": wildcards.dataset, "model": "contrastive", "strategy": "cosine"}),
    threads: THREADS
    log:
        f"{RESULTS}/logs/evaluate_contrastive/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_contrastive/{{dataset}}.tsv"
    shell:
        "diffusion-classifier evaluate-contrastive --dataset-dir {input:q} --train {params.train:q} "
        "--split {params.split:q} --group-by {params.group_by:q} --names {params.names:q} "
        "--output-examples {output.examples:q} --output-summary {output.summary:q} --threads {threads:q} > {log:q} 2>&1"
