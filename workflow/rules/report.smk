rule make_tables:
    """Accuracy table of every experiment (Markdown + CSV)."""
    conda:
        CONDA_ENV
    input:
        summaries(),
    output:
        md=artifact_output("classification", "md"),
        csv=artifact_output("classification", "csv"),
    params:
        caption=report_caption("classification"),
    log:
        f"{RESULTS}/logs/make_tables/make_tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_tables/make_tables.tsv"
    shell:
        "diffusion-classifier make-tables --summary-paths {input:q} --output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule make_runtime_table:
    """Measured scoring time of every experiment, from the shards' timing files (not versioned)."""
    conda:
        CONDA_ENV
    input:
        summaries(),
    output:
        md=artifact_output("runtime", "md"),
        csv=artifact_output("runtime", "csv"),
    params:
        caption=report_caption("runtime"),
    log:
        f"{RESULTS}/logs/make_runtime_table/make_runtime_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_runtime_table/make_runtime_table.tsv"
    shell:
        "diffusion-classifier make-runtime-table --summary-paths {input:q} --output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"
