rule download_dataset:
    """Obtain a dataset and write it as manifest + images (same form at every scale)."""
    conda:
        CONDA_ENV
    output:
        directory(f"{RESULTS}/data/{{dataset}}"),
    params:
        source=lambda w: config["datasets"][w.dataset]["source"],
        options=lambda w: as_json(config["datasets"][w.dataset]["options"]),
    log:
        f"{RESULTS}/logs/download_dataset/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_dataset/{{dataset}}.tsv"
    shell:
        "diffusion-classifier download-dataset --source {params.source:q} --options {params.options:q} "
        "--output-dir {output:q} > {log:q} 2>&1"
