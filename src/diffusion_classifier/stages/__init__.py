"""One function per workflow stage; each Snakemake rule calls exactly one of them.

Rule name = CLI subcommand = function name (``score_shard`` <-> ``score-shard``).
Stage functions take paths and plain config sections, validate them, and call the
library; they hold no modelling logic of their own.
"""
