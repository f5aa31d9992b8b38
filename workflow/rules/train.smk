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
    log:
        f"{RESULTS}/logs/train_model/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_model/{{model}}.tsv"
    shell:
        "diffusion-classifier train-model --dataset {input} --model {params.model:q} --name {wildcards.model} "
        "--threads {threads} --out {output} > {log} 2>&1"
