# The discriminative zoo (paper Sec. 6.3.1): classifiers whose ID/OOD accuracies define
# the effective-robustness trend. Trained here (embedded default) or loaded with published
# weights (paper scale); evaluated in every setting of `zoo.settings`.
ZOO = config.get("zoo", {"models": {}, "settings": {}})


def zoo_model_dir(name):
    return f"{RESULTS}/zoo/models/{name}"


def zoo_trained_input(name):
    """Trained zoo models are a rule's output; published weights are not files of the DAG."""
    return [zoo_model_dir(name)] if ZOO["models"][name].get("train") else []


def zoo_summary(setting, model):
    return f"{RESULTS}/zoo/predictions/{setting}/{model}.summary.json"


def zoo_setting_inputs(wildcards):
    setting = ZOO["settings"][wildcards.setting]
    inputs = {"dataset": dataset_dir(setting["dataset"])}
    if setting.get("classes_from"):
        inputs["classes_from"] = dataset_dir(setting["classes_from"])
    return inputs


def zoo_evaluation_flags(wildcards, input):
    flags = f"--checkpoint {input.model[0]}" if input.model else ""
    if "classes_from" in input.keys():
        flags += f" --classes-from {input.classes_from}"
    return flags


rule train_zoo_model:
    """Train one zoo classifier on its train dataset (embedded default only)."""
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
        "{CLI} train-zoo-model --dataset {input} --model {params.model:q} --name {wildcards.zoo_model} "
        "--threads {threads} --out {output} > {log} 2>&1"


rule evaluate_zoo_model:
    """Per-image predictions and counts of one zoo model in one evaluation setting."""
    input:
        unpack(zoo_setting_inputs),
        model=lambda w: zoo_trained_input(w.zoo_model),
    output:
        predictions=f"{RESULTS}/zoo/predictions/{{setting}}/{{zoo_model}}.parquet",
        summary=f"{RESULTS}/zoo/predictions/{{setting}}/{{zoo_model}}.summary.json",
    params:
        model=lambda w: as_json(ZOO["models"][w.zoo_model]),
        setting=lambda w: as_json(ZOO["settings"][w.setting]),
        flags=zoo_evaluation_flags,
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/evaluate_zoo_model/{{setting}}/{{zoo_model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_zoo_model/{{setting}}/{{zoo_model}}.tsv"
    shell:
        "{CLI} evaluate-zoo-model --model {params.model:q} --name {wildcards.zoo_model} "
        "--setting {params.setting:q} --setting-name {wildcards.setting} --dataset {input.dataset} "
        "{params.flags} --predictions {output.predictions} --summary {output.summary} "
        "--threads {threads} > {log} 2>&1"
