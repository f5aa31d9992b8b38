# Table 1's "Synthetic SD Data" (classifier trained on images generated from the class
# prompts, tested on the real test set) and "SD Features" (classifier on UNet mid-block
# maps at t = 100) rows.


rule generate_synthetic:
    """One shard of labelled images sampled from the class prompts (DDIM, per-image seeds)."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        prompts=lambda w: prompts_dir(w.dataset, SYNTHETIC_MODEL),
        model=lambda w: trained_model_of(SYNTHETIC_MODEL),
    output:
        directory(synthetic_file("{dataset}", "shard-{shard}")),
    params:
        checkpoint=lambda w: checkpoint_of(SYNTHETIC_MODEL),
        model=lambda w: as_json(config["models"][SYNTHETIC_MODEL]),
        synthetic=as_json(SYNTHETIC),
        names=lambda w: as_json({"model": SYNTHETIC_MODEL, "dataset": w.dataset}),
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
        shards=lambda w: synthetic_shards(w.dataset),
        real=lambda w: dataset_dir(w.dataset),
    output:
        directory(synthetic_file("{dataset}", "dataset")),
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
        synthetic=synthetic_file("{dataset}", "dataset"),
        real=lambda w: dataset_dir(w.dataset),
    output:
        checkpoint=directory(synthetic_file("{dataset}", "classifier")),
        predictions=synthetic_file("{dataset}", "predictions.parquet"),
        summary=synthetic_file("{dataset}", "summary.json"),
    params:
        synthetic=as_json(SYNTHETIC),
        names=lambda w: as_json({"model": SYNTHETIC_MODEL, "dataset": w.dataset}),
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


rule extract_sd_features:
    """UNet mid-block maps at t = 100 of a dataset's splits (fp16, computed once, reused)."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(w.dataset),
        model=lambda w: trained_model_of(FEATURES_MODEL),
    output:
        directory(features_dir("{dataset}")),
    params:
        checkpoint=lambda w: checkpoint_of(FEATURES_MODEL),
        model=lambda w: as_json(config["models"][FEATURES_MODEL]),
        features=as_json(FEATURES),
        names=lambda w: as_json({"model": FEATURES_MODEL, "dataset": w.dataset}),
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


rule train_feature_classifier:
    """Classifier on the feature maps with the real labels, tested on the evaluation split (Table 1 cell)."""
    conda:
        CONDA_ENV
    input:
        unpack(feature_training_inputs),
    output:
        checkpoint=directory(features_file("{dataset}", "classifier")),
        predictions=features_file("{dataset}", "predictions.parquet"),
        summary=features_file("{dataset}", "summary.json"),
    wildcard_constraints:
        dataset=one_of(FEATURES_TRAINED),
    params:
        features=as_json(FEATURES),
        names=lambda w: as_json({"model": FEATURES_MODEL, "dataset": w.dataset}),
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


rule evaluate_feature_classifier:
    """A column without a train split scored by another column's classifier (ObjectNet: ImageNet's)."""
    conda:
        CONDA_ENV
    input:
        features=lambda w: features_dir(w.dataset),
        dataset=lambda w: dataset_dir(w.dataset),
        checkpoint=lambda w: features_file(FEATURES_BORROWED[w.dataset], "classifier"),
        trained=lambda w: features_file(FEATURES_BORROWED[w.dataset], "summary.json"),
    output:
        predictions=features_file("{dataset}", "predictions.parquet"),
        summary=features_file("{dataset}", "summary.json"),
    wildcard_constraints:
        dataset=one_of(FEATURES_BORROWED),
    params:
        features=as_json(FEATURES),
        names=lambda w: as_json({"model": FEATURES_MODEL, "dataset": w.dataset}),
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
