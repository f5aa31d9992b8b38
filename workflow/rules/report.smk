rule make_tables:
    """Accuracy and runtime tables of every experiment (Markdown + CSV)."""
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
        report(
            f"{RESULTS}/tables/runtime.md",
            caption="../report/runtime.rst",
            category="Tables",
        ),
        f"{RESULTS}/tables/runtime.csv",
    params:
        out_dir=lambda w, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/make_tables/make_tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_tables/make_tables.tsv"
    shell:
        "diffusion-classifier make-tables --summaries {input:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
