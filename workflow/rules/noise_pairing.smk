# Paper Figure 2 (Sec. 3.3): why every class is scored with the same (t, eps) pairs.
# Scores one image against two classes at every t for a few fixed noises (a GPU job at
# paper scale: 1000 timesteps x 4 noises x 2 prompts).


rule figure_noise_pairing:
    """Figure 2: one image's error at every t for fixed noises and two classes."""
    conda:
        CONDA_ENV
    input:
        dataset=lambda w: dataset_dir(NOISE_PAIRING["dataset"]),
        model=lambda w: trained_model_of(NOISE_PAIRING["model"]),
        prompts=lambda w: prompts_of(NOISE_PAIRING["dataset"], NOISE_PAIRING["model"]),
    output:
        png=artifact_output("fig2", "png"),
        csv=artifact_output("fig2", "csv"),
        json=artifact_output("fig2", "json"),
    params:
        caption=report_caption("fig2"),
        checkpoint=lambda w: checkpoint_of(NOISE_PAIRING["model"]),
        model=lambda w: as_json(config["models"][NOISE_PAIRING["model"]]),
        spec=as_json(NOISE_PAIRING),
        prompts=lambda w: prompts_flag(NOISE_PAIRING["dataset"], NOISE_PAIRING["model"]),
    threads: THREADS
    resources:
        gpu=1,
    log:
        f"{RESULTS}/logs/figure_noise_pairing/figure_noise_pairing.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_noise_pairing/figure_noise_pairing.tsv"
    shell:
        "diffusion-classifier figure-noise-pairing --dataset-dir {input.dataset:q} --checkpoint {params.checkpoint:q} "
        "--model {params.model:q} --spec {params.spec:q} {params.prompts:q} --threads {threads:q} "
        "--output-png {output.png:q} --output-csv {output.csv:q} --output-json {output.json:q} > {log:q} 2>&1"
