from pathlib import Path

# Every table's headline numbers in one file, declared as DVC metrics in dvc.yaml
# (`dvc metrics diff` compares them between commits). Included after every rules file
# that registers a table in ALL_OUTPUTS; the runtime table (measured times) is left out.
METRIC_TABLE_CSVS = sorted(
    {
        str(Path(path).with_suffix(".csv"))
        for path in ALL_OUTPUTS
        if Path(path).parent == Path(RESULTS, "tables") and Path(path).stem != "runtime"
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
        "diffusion-classifier make-metrics --tables {input:q} --out {output:q} > {log:q} 2>&1"
