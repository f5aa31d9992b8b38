# LAION-filter audit of SD 2.0's training filters (paper Table 2).
import os

AUDIT = config.get("audit")


def audit_weight_files(wildcards):
    """Filter-weight files present in weights_dir: adding one later reruns the audit."""
    from diffusion_classifier.audit import EMBEDDING_FILTERS, get_weights_spec

    names = [get_weights_spec(f.weights).filename for f in EMBEDDING_FILTERS.values()]
    paths = [os.path.join(AUDIT["weights_dir"], name) for name in names]
    return [p for p in paths if os.path.isfile(p)]


if AUDIT:

    ALL_OUTPUTS.extend([f"{RESULTS}/tables/table2.md", f"{RESULTS}/tables/table2.csv"])

    rule audit_filters:
        """Resolution, aesthetic and NSFW scores of every image of one dataset's split."""
        conda:
            CONDA_ENV
        input:
            dataset=lambda w: dataset_dir(w.dataset),
            weights=audit_weight_files,
        output:
            scores=f"{RESULTS}/audit/{{dataset}}.parquet",
            summary=f"{RESULTS}/audit/{{dataset}}.json",
        params:
            audit=as_json(AUDIT),
        threads: THREADS
        resources:
            gpu=1,  # CLIP ViT-L/14 embeddings of every test image
        log:
            f"{RESULTS}/logs/audit_filters/{{dataset}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/audit_filters/{{dataset}}.tsv"
        shell:
            "diffusion-classifier audit-filters --dataset-dir {input.dataset:q} --dataset-name {wildcards.dataset:q} "
            "--audit {params.audit:q} --output-scores {output.scores:q} --output-summary {output.summary:q} "
            "--threads {threads:q} > {log:q} 2>&1"

    rule make_table2:
        """Table 2: share passing R, A, S, A+S, R+A+S per dataset, the paper's beside ours."""
        conda:
            CONDA_ENV
        input:
            scores=expand(f"{RESULTS}/audit/{{dataset}}.parquet", dataset=AUDIT["datasets"]),
            summaries=expand(f"{RESULTS}/audit/{{dataset}}.json", dataset=AUDIT["datasets"]),
        output:
            md=report(f"{RESULTS}/tables/table2.md", caption="../report/table2.rst", category="Tables"),
            csv=f"{RESULTS}/tables/table2.csv",
        log:
            f"{RESULTS}/logs/make_table2/make_table2.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_table2/make_table2.tsv"
        shell:
            "diffusion-classifier make-table2 --scores-paths {input.scores:q} --summary-paths {input.summaries:q} "
            "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"
