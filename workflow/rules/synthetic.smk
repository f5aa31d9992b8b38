# Table 1's "Synthetic SD Data" (classifier trained on images generated from the class
# prompts, tested on the real test set) and "SD Features" (classifier on UNet mid-block
# maps at t = 100) rows. Included after zeroshot.smk: generation reads its prompt tables.
SYNTHETIC = BASELINES.get("synthetic")
FEATURES = BASELINES.get("features")


def synthetic_root(dataset):
    return f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC['model']}/{dataset}"


def features_root(dataset):
    return f"{RESULTS}/baselines/sd_features/{FEATURES['model']}/{dataset}"


def features_dir(dataset):
    return f"{RESULTS}/features/{FEATURES['model']}/{dataset}"


def feature_training_inputs(wildcards):
    """A column's own maps, plus the train maps and dataset it borrows (features.train_from)."""
    inputs = {"features": features_dir(wildcards.dataset), "dataset": dataset_dir(wildcards.dataset)}
    source = FEATURES.get("train_from", {}).get(wildcards.dataset)
    if source:
        inputs.update(train_features=features_dir(source), train_dataset=dataset_dir(source))
    return inputs


def feature_training_args(wildcards, input):
    """Extra words for ``{params.train:q}`` (empty without a separate training dataset)."""
    if "train_features" not in input.keys():
        return []
    return ["--train-features-dir", input.train_features, "--train-dataset-dir", input.train_dataset]


def baseline_checkpoint(model):
    spec = config["models"][model]
    return spec["checkpoint"] if spec.get("checkpoint") else model_dir(model)


def baseline_model_input(model):
    return [] if config["models"][model].get("checkpoint") else [model_dir(model)]


if SYNTHETIC:
    for _dataset in SYNTHETIC["datasets"]:
        if TABLE1 and _dataset in TABLE1["datasets"]:
            TABLE1_SOURCES.setdefault("synthetic_sd_data", {})[_dataset] = (
                f"{synthetic_root(_dataset)}/summary.json"
            )
    ALL_OUTPUTS.extend(f"{synthetic_root(d)}/summary.json" for d in SYNTHETIC["datasets"])

    rule generate_synthetic:
        """One shard of labelled images sampled from the class prompts (DDIM, per-image seeds)."""
        conda:
            CONDA_ENV
        input:
            dataset=lambda w: dataset_dir(w.dataset),
            prompts=lambda w: prompts_dir(w.dataset, SYNTHETIC["model"]),
            model=lambda w: baseline_model_input(SYNTHETIC["model"]),
        output:
            directory(f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC['model']}/{{dataset}}/shard-{{shard}}"),
        params:
            checkpoint=lambda w: baseline_checkpoint(SYNTHETIC["model"]),
            model=as_json(config["models"][SYNTHETIC["model"]]),
            synthetic=as_json(SYNTHETIC),
            names=lambda w: as_json({"model": SYNTHETIC["model"], "dataset": w.dataset}),
        wildcard_constraints:
            shard=r"\d+",
        threads: THREADS
        resources:
            gpu=1,
        log:
            f"{RESULTS}/logs/generate_synthetic/{{dataset}}/shard-{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/generate_synthetic/{{dataset}}/shard-{{shard}}.tsv"
        shell:
            "diffusion-classifier generate-synthetic --dataset-dir {input.dataset:q} --prompts-dir {input.prompts:q} "
            "--checkpoint {params.checkpoint:q} --model {params.model:q} --synthetic {params.synthetic:q} "
            "--shard {wildcards.shard:q} --output-dir {output:q} --names {params.names:q} --threads {threads:q} > {log:q} 2>&1"

    rule merge_synthetic:
        """The generation shards as one prepared dataset (manifest + generation.csv of prompts and seeds)."""
        conda:
            CONDA_ENV
        input:
            shards=lambda w: [f"{synthetic_root(w.dataset)}/shard-{s:03d}" for s in range(SYNTHETIC.get("shards", 1))],
            real=lambda w: dataset_dir(w.dataset),
        output:
            directory(f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC['model']}/{{dataset}}/dataset"),
        log:
            f"{RESULTS}/logs/merge_synthetic/{{dataset}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/merge_synthetic/{{dataset}}.tsv"
        shell:
            "diffusion-classifier merge-synthetic --shard-dirs {input.shards:q} --real-dataset-dir {input.real:q} "
            "--dataset-name {wildcards.dataset:q}_synthetic --output-dir {output:q} > {log:q} 2>&1"

    rule train_synthetic_classifier:
        """Classifier trained on the synthetic images only, tested on the real split (Table 1 cell)."""
        conda:
            CONDA_ENV
        input:
            synthetic=f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC['model']}/{{dataset}}/dataset",
            real=lambda w: dataset_dir(w.dataset),
        output:
            checkpoint=directory(f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC['model']}/{{dataset}}/classifier"),
            predictions=f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC['model']}/{{dataset}}/predictions.parquet",
            summary=f"{RESULTS}/baselines/synthetic_sd_data/{SYNTHETIC['model']}/{{dataset}}/summary.json",
        params:
            synthetic=as_json(SYNTHETIC),
            names=lambda w: as_json({"model": SYNTHETIC["model"], "dataset": w.dataset}),
        threads: THREADS
        resources:
            gpu=1,  # a ResNet-50 at paper scale; train.device picks it
        log:
            f"{RESULTS}/logs/train_synthetic_classifier/{{dataset}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train_synthetic_classifier/{{dataset}}.tsv"
        shell:
            "diffusion-classifier train-synthetic-classifier --synthetic-dir {input.synthetic:q} --real-dataset-dir {input.real:q} "
            "--synthetic {params.synthetic:q} --output-checkpoint {output.checkpoint:q} "
            "--output-predictions {output.predictions:q} --output-summary {output.summary:q} --names {params.names:q} "
            "--threads {threads:q} > {log:q} 2>&1"


if FEATURES:
    for _dataset in FEATURES["datasets"]:
        if TABLE1 and _dataset in TABLE1["datasets"]:
            TABLE1_SOURCES.setdefault("sd_features", {})[_dataset] = f"{features_root(_dataset)}/summary.json"
    ALL_OUTPUTS.extend(f"{features_root(d)}/summary.json" for d in FEATURES["datasets"])

    rule extract_sd_features:
        """UNet mid-block maps at t = 100 of a dataset's splits (fp16, computed once, reused)."""
        conda:
            CONDA_ENV
        input:
            dataset=lambda w: dataset_dir(w.dataset),
            model=lambda w: baseline_model_input(FEATURES["model"]),
        output:
            directory(f"{RESULTS}/features/{FEATURES['model']}/{{dataset}}"),
        params:
            checkpoint=lambda w: baseline_checkpoint(FEATURES["model"]),
            model=as_json(config["models"][FEATURES["model"]]),
            features=as_json(FEATURES),
            names=lambda w: as_json({"model": FEATURES["model"], "dataset": w.dataset}),
        threads: THREADS
        resources:
            gpu=1,
        log:
            f"{RESULTS}/logs/extract_sd_features/{{dataset}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/extract_sd_features/{{dataset}}.tsv"
        shell:
            "diffusion-classifier extract-sd-features --dataset-dir {input.dataset:q} --checkpoint {params.checkpoint:q} "
            "--model {params.model:q} --features {params.features:q} --output-dir {output:q} "
            "--names {params.names:q} --threads {threads:q} > {log:q} 2>&1"

    FEATURES_BORROWED = FEATURES.get("classifier_from", {})
    FEATURES_TRAINED = [d for d in FEATURES["datasets"] if d not in FEATURES_BORROWED]

    rule train_feature_classifier:
        """Classifier on the feature maps with the real labels, tested on the evaluation split (Table 1 cell)."""
        conda:
            CONDA_ENV
        input:
            unpack(feature_training_inputs),
        output:
            checkpoint=directory(f"{RESULTS}/baselines/sd_features/{FEATURES['model']}/{{dataset}}/classifier"),
            predictions=f"{RESULTS}/baselines/sd_features/{FEATURES['model']}/{{dataset}}/predictions.parquet",
            summary=f"{RESULTS}/baselines/sd_features/{FEATURES['model']}/{{dataset}}/summary.json",
        wildcard_constraints:
            dataset="|".join(FEATURES_TRAINED),
        params:
            features=as_json(FEATURES),
            names=lambda w: as_json({"model": FEATURES["model"], "dataset": w.dataset}),
            train=feature_training_args,
        threads: THREADS
        resources:
            gpu=1,  # a ResNet-50 at paper scale; train.device picks it
        log:
            f"{RESULTS}/logs/train_feature_classifier/{{dataset}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train_feature_classifier/{{dataset}}.tsv"
        shell:
            "diffusion-classifier train-feature-classifier --features-dir {input.features:q} --dataset-dir {input.dataset:q} "
            "--features {params.features:q} --output-checkpoint {output.checkpoint:q} "
            "--output-predictions {output.predictions:q} --output-summary {output.summary:q} --names {params.names:q} "
            "{params.train:q} --threads {threads:q} > {log:q} 2>&1"

    if FEATURES_BORROWED:

        rule evaluate_feature_classifier:
            """A column without a train split scored by another column's classifier (ObjectNet: ImageNet's)."""
            conda:
                CONDA_ENV
            input:
                features=lambda w: features_dir(w.dataset),
                dataset=lambda w: dataset_dir(w.dataset),
                checkpoint=lambda w: f"{features_root(FEATURES_BORROWED[w.dataset])}/classifier",
                trained=lambda w: f"{features_root(FEATURES_BORROWED[w.dataset])}/summary.json",
            output:
                predictions=f"{RESULTS}/baselines/sd_features/{FEATURES['model']}/{{dataset}}/predictions.parquet",
                summary=f"{RESULTS}/baselines/sd_features/{FEATURES['model']}/{{dataset}}/summary.json",
            wildcard_constraints:
                dataset="|".join(FEATURES_BORROWED),
            params:
                features=as_json(FEATURES),
                names=lambda w: as_json({"model": FEATURES["model"], "dataset": w.dataset}),
            threads: THREADS
            resources:
                gpu=1,
            log:
                f"{RESULTS}/logs/evaluate_feature_classifier/{{dataset}}.log",
            benchmark:
                f"{RESULTS}/benchmarks/evaluate_feature_classifier/{{dataset}}.tsv"
            shell:
                "diffusion-classifier evaluate-feature-classifier --features-dir {input.features:q} "
                "--dataset-dir {input.dataset:q} --features {params.features:q} --checkpoint {input.checkpoint:q} "
                "--trained-summary {input.trained:q} --output-predictions {output.predictions:q} --output-summary {output.summary:q} "
                "--names {params.names:q} --threads {threads:q} > {log:q} 2>&1"
