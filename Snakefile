# Diffusion Classifier reproduction: wiring only. Logic lives in src/diffusion_classifier,
# each rule calls one `diffusion-classifier` subcommand.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/mini.yaml"


# Every rule runs the same package; with `--sdm conda` this environment provides it.
conda: "envs/diffusion-classifier.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/supervised.smk"
include: "workflow/rules/zoo.smk"
include: "workflow/rules/robustness.smk"
include: "workflow/rules/zeroshot.smk"
include: "workflow/rules/synthetic.smk"


rule all:
    input:
        ALL_OUTPUTS,
    default_target: True
