# Diffusion Classifier reproduction: wiring only. Logic lives in src/diffusion_classifier,
# each rule calls one `diffusion-classifier` subcommand.
from snakemake.utils import min_version

min_version("8.0")


# The embedded default, unless a config is given: `--configfile config/paper.yaml` replaces
# it (rather than merging into it), so no digits entry leaks into another configuration.
if not workflow.overwrite_configfiles:

    configfile: "config/mini.yaml"


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
include: "workflow/rules/contrastive.smk"
include: "workflow/rules/zeroshot.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/noise_pairing.smk"
include: "workflow/rules/review.smk"


rule all:
    """Every table, figure and summary the config asks for (common.smk: get_final_output)."""
    input:
        get_final_output(),
    default_target: True


rule opt_in:
    """Every opt-in experiment (experiments[].opt_in): runs beyond the paper, built only when asked for."""
    input:
        opt_in_summaries(),
