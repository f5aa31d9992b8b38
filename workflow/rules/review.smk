from pathlib import Path

# What review tools read: the provenance of every scored run (a table in the HTML report)
# and every table's headline numbers in one file, declared as DVC metrics in dvc.yaml
# (`dvc metrics diff` compares them between commits). Included after every rules file
# that registers a table in ALL_OUTPUTS; the runtime table (measured times) is left out.
PROVENANCE = f"{RESULTS}/tables/provenance"
PROVENANCE_SUMMARIES = summaries() + COMPOSITIONAL_SUMMARIES + CONTRASTIVE_SUMMARIES
ALL_OUTPUTS.extend([f"{PROVENANCE}.md", f"{PROVENANCE}.csv"])


rule make_provenance_table:
    """Weights, code version, config hash, schedule and device of every scored run."""
    conda:
        CONDA_ENV
    input:
        PROVENANCE_SUMMARIES,
    output:
        md=report(f"{PROVENANCE}.md", caption="../report/provenance.rst", category="Provenance"),
        csv=f"{PROVENANCE}.csv",
    log:
        f"{RESULTS}/logs/make_provenance_table/make_provenance_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_provenance_table/make_provenance_table.tsv"
    shell:
        "diffusion-classifier make-provenance-table --summary-paths {input:q} --output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


METRIC_TABLE_CSVS = sorted(
    {
        str(Path(path).with_suffix(".csv"))
        for path in ALL_OUTPUTS
        if Path(path).parent == Path(RESULTS, "tables") and Path(path).stem not in ("runtime", "provenance")
    }
)
METRICS = f"{RESULTS}/metrics.json"
ALL_OUTPUTS.append(METRICS)


rule make_metrics:
    """The headline numbers of every table (accuracies, scores, effective robustness, passes)."""
    conda:
        CONDA_ENV
    input:
        METRIC_TABLE_CSVS,
    output:
        METRICS,
    log:
        f"{RESULTS}/logs/make_metrics/make_metrics.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_metrics/make_metrics.tsv"
    shell:
        "diffusion-classifier make-metrics --table-csvs {input:q} --output {output:q} > {log:q} 2>&1"
