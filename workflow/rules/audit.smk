# LAION-filter audit of SD 2.0's training filters (paper Table 2).


rule audit_filters:
    """Resolution, aesthetic and NSFW scores of every image of one dataset's split."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        weights=lambda w: audit_weight_files(),
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
        scores=expand(f"{RESULTS}/audit/{{dataset}}.parquet", dataset=AUDIT.get("datasets", [])),
        summaries=expand(f"{RESULTS}/audit/{{dataset}}.json", dataset=AUDIT.get("datasets", [])),
    output:
        md=artifact_output("table2", "md"),
        html=artifact_output("table2", "html"),
        csv=artifact_output("table2", "csv"),
    params:
        caption=report_caption("table2"),
    log:
        f"{RESULTS}/logs/make_table2/make_table2.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_table2/make_table2.tsv"
    shell:
        "diffusion-classifier make-table2 --scores-paths {input.scores:q} --summary-paths {input.summaries:q} "
        "--output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"
