rule make_tables:
    """Every catalog table with a `frame` function, from its inputs (the classification table, ...)."""
    conda:
        CONDA_ENV
    input:
        unpack(catalog_table_inputs),
    output:
        md=f"{RESULTS}/tables/{{table}}.md",
        csv=f"{RESULTS}/tables/{{table}}.csv",
        # Written beside the .md (reporting.tables.write_table): the report shows it inline.
        html=report(f"{RESULTS}/tables/{{table}}.html", caption=ARTIFACT_CAPTION, category="Tables"),
    wildcard_constraints:
        table=one_of(CATALOG_TABLES),
    params:
        inputs=lambda w, input: as_json({kind: list(input[kind]) for kind in artifact(w.table).inputs}),
        caption=lambda w: report_caption(w.table),
    log:
        f"{RESULTS}/logs/make_tables/{{table}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_tables/{{table}}.tsv"
    shell:
        "diffusion-classifier make-tables --name {wildcards.table:q} --inputs {params.inputs:q} "
        "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule make_runtime_table:
    """Measured scoring time of every experiment, from the shards' timing files (not versioned)."""
    conda:
        CONDA_ENV
    input:
        summaries(),
    output:
        md=artifact_output("runtime", "md"),
        html=artifact_output("runtime", "html"),
        csv=artifact_output("runtime", "csv"),
    params:
        caption=report_caption("runtime"),
    log:
        f"{RESULTS}/logs/make_runtime_table/make_runtime_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_runtime_table/make_runtime_table.tsv"
    shell:
        "diffusion-classifier make-runtime-table --summary-paths {input:q} --output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"
