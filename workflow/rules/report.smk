ALL_OUTPUTS.extend([f"{RESULTS}/tables/classification.md", f"{RESULTS}/tables/runtime.md"])


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
    log:
        f"{RESULTS}/logs/make_tables/make_tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_tables/make_tables.tsv"
    shell:
        "diffusion-classifier make-tables --summary-paths {input:q} --output-dir {RESULTS:q}/tables > {log:q} 2>&1"
