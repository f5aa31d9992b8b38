rule train_model:
    """Train a small class-conditional diffusion model (embedded default only)."""
    conda:
        CONDA_ENV
    input:
        lambda w: dataset_dir(config["models"][w.model]["train_dataset"]),
    output:
        directory(f"{RESULTS}/models/{{model}}"),
    params:
        model=lambda w: as_json(config["models"][w.model]),
    threads: THREADS
    # The diffusion models are the DAG's critical path: start them first, and let the
    # zoo and the baselines fill the other cores.
    priority: 2
    log:
        f"{RESULTS}/logs/train_model/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_model/{{model}}.tsv"
    shell:
        "diffusion-classifier train-model --dataset-dir {input:q} --model {params.model:q} --model-name {wildcards.model:q} "
        "--threads {threads:q} --output-dir {output:q} > {log:q} 2>&1"
