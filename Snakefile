# Diffusion Classifier reproduction: wiring only. Logic lives in src/diffusion_classifier,
# each rule calls one `diffusion-classifier` subcommand.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/mini.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/zeroshot.smk"


rule all:
    input:
        ALL_OUTPUTS,
    default_target: True
