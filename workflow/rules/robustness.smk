# Distribution shifts, effective-robustness fits, Table 4 and Figure 6 (paper Sec. 6.3.1).


ruleorder: build_shift > download_dataset


rule build_shift:
    """A shifted test set derived from a prepared dataset (adversarial: and a reference model)."""
    conda:
        CONDA_ENV
    input:
        unpack(shift_inputs),
    output:
        directory(f"{RESULTS}/data/{{shift}}"),
    wildcard_constraints:
        shift=one_of(SHIFTS),
    params:
        source=lambda w: config["datasets"][w.shift]["source"],
        options=lambda w: as_json(config["datasets"][w.shift]["options"]),
        shift=lambda w: as_json(SHIFTS[w.shift]),
        reference=shift_reference,
    threads: THREADS
    log:
        f"{RESULTS}/logs/build_shift/{{shift}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_shift/{{shift}}.tsv"
    shell:
        "diffusion-classifier build-shift --dataset-name {wildcards.shift:q} --source {params.source:q} --options {params.options:q} "
        "--shift {params.shift:q} --base-dir {input.base:q} {params.reference:q} --threads {threads:q} "
        "--output-dir {output:q} > {log:q} 2>&1"


rule replay_restricted:
    """An ID accuracy on a shift's classes, replayed from the stored one-stage run (no rescoring)."""
    conda:
        CONDA_ENV
    input:
        shards=lambda w: shards_of(w.dataset, w.model, w.strategy),
        dataset=lambda w: dataset_dir(w.dataset),
        classes=lambda w: dataset_dir(w.classes_from),
    output:
        restricted_summary_of("{dataset}", "{model}", "{strategy}", "{classes_from}"),
    params:
        loss=lambda w: config["strategies"][w.strategy]["loss"],
    log:
        f"{RESULTS}/logs/replay_restricted/{{dataset}}/{{model}}/{{strategy}}/{{classes_from}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/replay_restricted/{{dataset}}/{{model}}/{{strategy}}/{{classes_from}}.tsv"
    shell:
        "diffusion-classifier replay-restricted --dataset {wildcards.dataset:q} --model {wildcards.model:q} "
        "--strategy {wildcards.strategy:q} --classes-from {wildcards.classes_from:q} --shards {input.shards:q} "
        "--dataset-dir {input.dataset:q} --classes-dir {input.classes:q} --loss {params.loss:q} --output {output:q} > {log:q} 2>&1"


rule fit_effective_robustness:
    """Logit OLS of OOD on ID over the zoo (piecewise at a reference); everyone's effective robustness."""
    conda:
        CONDA_ENV
    input:
        zoo=lambda w: fit_zoo_summaries(w.fit),
        diffusion=lambda w: fit_diffusion_summaries(w.fit),
    output:
        models=fit_file("{fit}", "models.csv"),
        parameters=fit_file("{fit}", "parameters.csv"),
        fit=fit_file("{fit}", "fit.json"),
    params:
        robustness=as_json(ROBUSTNESS),
    log:
        f"{RESULTS}/logs/fit_effective_robustness/{{fit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fit_effective_robustness/{{fit}}.tsv"
    shell:
        "diffusion-classifier fit-effective-robustness --fit-name {wildcards.fit:q} --robustness {params.robustness:q} "
        "--zoo-summaries {input.zoo:q} --diffusion-summaries {input.diffusion:q} --output-models {output.models:q} "
        "--output-parameters {output.parameters:q} --output-fit {output.fit:q} > {log:q} 2>&1"


rule make_robustness_table:
    """Table 4: ID and OOD accuracy of every model, the paper's values beside ours."""
    conda:
        CONDA_ENV
    input:
        fits=[fit_file(fit, "fit.json") for fit in FITS],
        models=[fit_file(fit, "models.csv") for fit in FITS],
    output:
        md=artifact_output("table4", "md"),
        html=artifact_output("table4", "html"),
        csv=artifact_output("table4", "csv"),
    params:
        caption=report_caption("table4"),
    log:
        f"{RESULTS}/logs/make_robustness_table/table4.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_robustness_table/table4.tsv"
    shell:
        "diffusion-classifier make-robustness-table --fit-paths {input.fits:q} --models-paths {input.models:q} --output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule plot_effective_robustness:
    """Figure 6: logit axes, fitted lines, 99.5% intervals, Diffusion Classifier highlighted."""
    conda:
        CONDA_ENV
    input:
        fits=[fit_file(fit, "fit.json") for fit in FITS],
        models=[fit_file(fit, "models.csv") for fit in FITS],
    output:
        png=artifact_output("fig6", "png"),
        csv=artifact_output("fig6", "csv"),
    params:
        caption=report_caption("fig6"),
    log:
        f"{RESULTS}/logs/plot_effective_robustness/fig6_effective_robustness.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_effective_robustness/fig6_effective_robustness.tsv"
    shell:
        "diffusion-classifier plot-effective-robustness --fit-paths {input.fits:q} --models-paths {input.models:q} --output-png {output.png:q} --output-csv {output.csv:q} "
        "> {log:q} 2>&1"
