# The discriminative zoo (paper Sec. 6.3.1): classifiers whose ID/OOD accuracies define
# the effective-robustness trend. Trained here (embedded default) or loaded with published
# weights (paper scale); evaluated in every setting of `zoo.settings`.
ZOO = config.get("zoo", {"models": {}, "settings": {}})
# The models that enter the fits: `zoo.members` when given (a list, so a test config can
# pick a few of the defined models), else every model defined.
ZOO_MEMBERS = ZOO.get("members") or list(ZOO.get("models", {}))


def zoo_model_dir(name):
    return f"{RESULTS}/zoo/models/{name}"


def zoo_trained_input(name):
    """Trained zoo models are a rule's output; published weights are not files of the DAG."""
    return [zoo_model_dir(name)] if ZOO["models"][name].get("train") else []


def zoo_summary(setting, model):
    return f"{RESULTS}/zoo/predictions/{setting}/{model}.summary.json"


def zoo_evaluation_inputs(wildcards):
    """Every dataset the zoo is evaluated on (and the class restrictions), plus the checkpoint."""
    datasets = set()
    for setting in ZOO["settings"].values():
        datasets.add(setting["dataset"])
        if setting.get("classes_from"):
            datasets.add(setting["classes_from"])
    return {"datasets": [dataset_dir(d) for d in sorted(datasets)], "model": zoo_trained_input(wildcards.zoo_model)}


def zoo_evaluation_flags(wildcards, input):
    return ["--checkpoint", input.model[0]] if input.model else []


rule train_zoo_model:
    """Train one zoo classifier on its train dataset (embedded default only)."""
    conda:
        CONDA_ENV
    input:
        lambda w: dataset_dir(ZOO["models"][w.zoo_model]["train_dataset"]),
    output:
        directory(f"{RESULTS}/zoo/models/{{zoo_model}}"),
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
        predictions=expand(
            "{results}/zoo/predictions/{setting}/{{zoo_model}}.parquet",
            results=RESULTS,
            setting=list(ZOO["settings"]),
        ),
        summaries=expand(
            "{results}/zoo/predictions/{setting}/{{zoo_model}}.summary.json",
            results=RESULTS,
            setting=list(ZOO["settings"]),
        ),
    params:
        model=lambda w: as_json(ZOO["models"][w.zoo_model]),
        settings=as_json(ZOO["settings"]),
        data=f"{RESULTS}/data",
        out_dir=f"{RESULTS}/zoo/predictions",
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
        "--output-dir {params.out_dir:q} --threads {threads:q} > {log:q} 2>&1"
