# The discriminative zoo (paper Sec. 6.3.1): classifiers whose ID/OOD accuracies define
# the effective-robustness trend. Trained here (embedded default) or loaded with published
# weights (paper scale); evaluated in every setting of `zoo.settings`.


rule train_zoo_model:
    """Train one zoo classifier on its train dataset (embedded default only)."""
    conda:
        CONDA_ENV
    input:
        lambda w: dataset_dir(ZOO["models"][w.zoo_model]["train_dataset"]),
    output:
        directory(zoo_model_dir("{zoo_model}")),
    params:
        model=lambda w: as_json(ZOO["models"][w.zoo_model]),
    threads: THREADS
    log:
        f"{RESULTS}/logs/train_zoo_model/{{zoo_model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_zoo_model/{{zoo_model}}.tsv"
    shell:
        "diffusion-classifier train-zoo-model --dataset-dir {input:q} --model {params.model:q} --model-name {wildcards.zoo_model:q} "
        "--threads {threads:q} --output-dir {output:q} > {log:q} 2>&1"


rule evaluate_zoo_model:
    """Per-image predictions and counts of one zoo model in every evaluation setting (one job)."""
    conda:
        CONDA_ENV
    input:
        unpack(zoo_evaluation_inputs),
    output:
        # One per setting, in the order of --settings (whose JSON sorts its keys).
        predictions=expand(
            "{results}/zoo/predictions/{setting}/{{zoo_model}}.parquet",
            results=RESULTS,
            setting=sorted(ZOO["settings"]),
        ),
        summaries=expand(
            "{results}/zoo/predictions/{setting}/{{zoo_model}}.summary.json",
            results=RESULTS,
            setting=sorted(ZOO["settings"]),
        ),
    params:
        model=lambda w: as_json(ZOO["models"][w.zoo_model]),
        settings=as_json(ZOO["settings"]),
        # The folder holding every dataset.
        data=lambda w, input: os.path.dirname(input.datasets[0]),
        flags=zoo_evaluation_flags,
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/evaluate_zoo_model/{{zoo_model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_zoo_model/{{zoo_model}}.tsv"
    shell:
        "diffusion-classifier evaluate-zoo-model --model {params.model:q} --model-name {wildcards.zoo_model:q} "
        "--settings {params.settings:q} --data-root {params.data:q} {params.flags:q} "
        "--output-predictions {output.predictions:q} --output-summaries {output.summaries:q} --threads {threads:q} > {log:q} 2>&1"
