# Distribution shifts, effective-robustness fits, Table 4 and Figure 6 (paper Sec. 6.3.1).
SHIFTS = config.get("shifts", {})
ROBUSTNESS = config.get("robustness", {"fits": {}})
FITS = list(ROBUSTNESS.get("fits", {}))


ruleorder: build_shift > download_dataset


def shift_inputs(wildcards):
    shift = SHIFTS[wildcards.shift]
    inputs = {"base": dataset_dir(shift["base"])}
    if shift.get("reference"):
        inputs["reference"] = zoo_trained_input(shift["reference"])
    return inputs


def shift_reference(wildcards, input):
    """``--reference JSON`` as a list of words for ``{params.reference:q}`` (empty for a plain corruption)."""
    name = SHIFTS[wildcards.shift].get("reference")
    if not name:
        return []
    weights_dir = input.reference[0] if input.reference else None
    reference = {"name": name, "spec": ZOO["models"][name], "checkpoint": weights_dir}
    return ["--reference", as_json(reference)]


def fit_zoo_summaries(wildcards):
    fit = ROBUSTNESS["fits"][wildcards.fit]
    return [
        zoo_summary(setting, model)
        for setting in (fit["id_setting"], fit["ood_setting"])
        for model in ZOO_MEMBERS
    ]


def fit_diffusion_summaries(wildcards):
    fit = ROBUSTNESS["fits"][wildcards.fit]
    return [
        f"{RESULTS}/predictions/{dataset}/{row['model']}/{row['strategy']}.summary.json"
        for row in fit.get("diffusion", [])
        for dataset in (row["id_dataset"], row["ood_dataset"])
    ]


def fit_dirs():
    return expand("{results}/robustness/{fit}", results=RESULTS, fit=FITS)


if FITS:
    ALL_OUTPUTS.extend(
        [
            f"{RESULTS}/tables/table4.md",
            f"{RESULTS}/figures/figure6.png",
        ]
    )


rule build_shift:
    """A shifted test set derived from a prepared dataset (adversarial: and a reference model)."""
    conda:
        CONDA_ENV
    input:
        unpack(shift_inputs),
    output:
        directory(f"{RESULTS}/data/{{shift}}"),
    wildcard_constraints:
        shift="|".join(SHIFTS) if SHIFTS else "^$",
    params:
        source=lambda w: config["datasets"][w.shift]["source"],
        options=lambda w: as_json(config["datasets"][w.shift].get("options", {})),
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


rule fit_effective_robustness:
    """Logit OLS of OOD on ID over the zoo (piecewise at a reference); everyone's effective robustness."""
    conda:
        CONDA_ENV
    input:
        zoo=fit_zoo_summaries,
        diffusion=fit_diffusion_summaries,
    output:
        models=f"{RESULTS}/robustness/{{fit}}/models.csv",
        parameters=f"{RESULTS}/robustness/{{fit}}/parameters.csv",
        fit=f"{RESULTS}/robustness/{{fit}}/fit.json",
    params:
        robustness=as_json(ROBUSTNESS),
        out_dir=lambda w: f"{RESULTS}/robustness/{w.fit}",
    log:
        f"{RESULTS}/logs/fit_effective_robustness/{{fit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fit_effective_robustness/{{fit}}.tsv"
    shell:
        "diffusion-classifier fit-effective-robustness --fit-name {wildcards.fit:q} --robustness {params.robustness:q} "
        "--zoo-summaries {input.zoo:q} --diffusion-summaries {input.diffusion:q} "
        "--output-dir {params.out_dir:q} > {log:q} 2>&1"


rule make_robustness_table:
    """Table 4: ID and OOD accuracy of every model, the paper's values beside ours."""
    conda:
        CONDA_ENV
    input:
        expand("{results}/robustness/{fit}/fit.json", results=RESULTS, fit=FITS),
    output:
        md=report(
            f"{RESULTS}/tables/table4.md",
            caption="../report/table4.rst",
            category="Tables",
        ),
        csv=f"{RESULTS}/tables/table4.csv",
    params:
        fits=fit_dirs(),
    log:
        f"{RESULTS}/logs/make_robustness_table/table4.log",
    benchmark:
        f"{RESULTS}/benchmarks/make_robustness_table/table4.tsv"
    shell:
        "diffusion-classifier make-robustness-table --fit-dirs {params.fits:q} --output-md {output.md:q} --output-csv {output.csv:q} > {log:q} 2>&1"


rule plot_effective_robustness:
    """Figure 6: logit axes, fitted lines, 99.5% intervals, Diffusion Classifier highlighted."""
    conda:
        CONDA_ENV
    input:
        expand("{results}/robustness/{fit}/fit.json", results=RESULTS, fit=FITS),
    output:
        png=report(
            f"{RESULTS}/figures/figure6.png",
            caption="../report/figure6.rst",
            category="Figures",
        ),
        csv=f"{RESULTS}/figures/figure6.csv",
    params:
        fits=fit_dirs(),
    log:
        f"{RESULTS}/logs/plot_effective_robustness/figure6.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_effective_robustness/figure6.tsv"
    shell:
        "diffusion-classifier plot-effective-robustness --fit-dirs {params.fits:q} --output-png {output.png:q} --output-csv {output.csv:q} "
        "> {log:q} 2>&1"
