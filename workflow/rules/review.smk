# What review tools read: the provenance of every scored run (a table in the HTML report)
# and every table's headline numbers in one file, declared as DVC metrics in dvc.yaml
# (`dvc metrics diff` compares them between commits); the runtime table (measured times)
# is left out (common.smk: metric_tables).


rule make_provenance_table:
    """Weights, code version, config hash, schedule and device of every scored run."""
    conda:
        CONDA_ENV
    input:
        summaries() + compositional_summaries() + contrastive_summaries(),
    output:
        md=artifact_output("provenance", "md"),
        html=artifact_output("provenance", "html"),
        csv=artifact_output("provenance", "csv"),
    params:
        caption=report_caption("provenance"),
    log:
        f"{RESULTS}/logs/make_provenance_table/make_provenance_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_provenance_table/make_provenance_table.tsv"
    shell:
        "diffusion-classifier make-provenance-table --summary-paths {input:q} --output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule make_metrics:
    """The tables' numbers: the headline (`dvc metrics show`) and every number (the detail)."""
    conda:
        CONDA_ENV
    input:
        metric_tables(),
    output:
        headline=METRICS,
        detail=METRICS_DETAIL,
    log:
        f"{RESULTS}/logs/make_metrics/make_metrics.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_metrics/make_metrics.tsv"
    shell:
        "diffusion-classifier make-metrics --table-csvs {input:q} --output {output.headline:q} "
        "--detail {output.detail:q} > {log:q} 2>&1"
