"""One function per workflow stage; each Snakemake rule calls exactly one of them.

Rule name = CLI subcommand = function name (``score_shard`` <-> ``score-shard``), by the
``@stage`` registration of :mod:`._registry`, from which :mod:`diffusion_classifier.cli`
builds the command line. Stage functions take paths and plain config sections, validate
them, and call the library; they hold no modelling logic of their own. Importing a stage
module imports no torch: that happens inside the functions that need it.
"""

from ._registry import STAGES, Stage, load_stages, stage

__all__ = ["STAGES", "Stage", "load_stages", "stage"]
