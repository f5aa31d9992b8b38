rule make_tables:
    """Accuracy table of every experiment (Markdown + CSV)."""
    conda:
        CONDA_ENV
    input:
        summaries(),
    output:
        report(
            f"{RESULTS}/tables/classification.md",
            caption="../report/classification.rst",
            category="Tables",
        ),
        f"{RESULTS}/tables/classification.csv",
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/make_tables/make_tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_tables/make_tables.tsv"
    shell:
        "diffusion-classifier make-tables --summary-paths {input:q} --output-dir {params.out_dir:q} > {log:q} 2>&1"


rule make_runtime_table:
    """Measured scoring time of every experiment, from the shards' timing files (not versioned)."""
    conda:
        CONDA_ENV
    input:
        summaries(),
    output:
        report(
            f"{RESULTS}/timing/runtime.md",
            caption="../report/runtime.rst",
            category="Timing",
        ),
        f"{RESULTS}/timing/runtime.csv",
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/make_runtime_table/make_runtime_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_runtime_table/make_runtime_table.tsv"
    shell:
        "diffusion-classifier make-runtime-table --summary-paths {input:q} --output-dir {params.out_dir:q} > {log:q} 2>&1"
